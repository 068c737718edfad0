"""End-to-end conversion benchmark on a synthetic CryoSPARC dataset.

Generates ``--n-images`` noisy images of ``--box`` pixels in MRC stacks of
``--per-file`` images plus an indexed ``.cs`` file in a temporary folder, converts them
(plots off) and prints images/s, peak RSS (of the converting process and of its
largest worker) and the time per stage.

    python benchmarks/bench_convert.py --n-images 5000 --box 128 --workers 2
    python benchmarks/bench_convert.py --box 256 --crop-to 128   # Fourier cropping
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from cryolike_convert.compat import convert_particle_stacks_from_indexed_cryosparc_file
from cryolike_convert.image_descriptor import DerivedGrid, ImageDescriptor
from cryolike_convert.testing import cs_table, write_cs, write_mrc_stack


def make_dataset(
    root: Path, n_images: int, box: int, per_file: int
) -> tuple[Path, Path]:
    """Write the stacks, the ``.cs`` file and ``params.npz``; return (cs, params)."""
    rng = np.random.default_rng(0)
    axis = np.arange(box) - box // 2
    blob = np.exp(-(axis[:, None] ** 2 + axis[None, :] ** 2) / (2 * (box / 8) ** 2))
    paths: list[str] = []
    indices: list[int] = []
    for number, start in enumerate(range(0, n_images, per_file)):
        count = min(per_file, n_images - start)
        images = rng.normal(size=(count, box, box)).astype(np.float32) - blob.astype(
            np.float32
        )
        relative = f"J1/extract/stack_{number:05d}.mrc"
        write_mrc_stack(root / relative, images, 1.0)
        paths += [relative] * count
        indices += list(range(count))
    table = cs_table(n_images, paths=paths, indices=np.array(indices), pixel_size=1.0)
    cs_file = write_cs(root / "J2" / "J2_particles.cs", table)
    params = ImageDescriptor.from_individual_values(box, 1.0).save(root / "params.npz")
    return cs_file, params


def convert(root: Path, args: argparse.Namespace) -> int:
    """Convert the dataset under ``root`` and print the figures."""
    started = time.perf_counter()
    cropped = args.crop_to is not None
    report = convert_particle_stacks_from_indexed_cryosparc_file(
        DerivedGrid() if cropped else root / "params.npz",
        root / "J2" / "J2_particles.cs",
        folder_output=root / "out",
        batch_size=args.batch_size,
        flag_plots=False,
        workers=args.workers,
        downsample_box=args.crop_to,
    )
    elapsed = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    stages = ", ".join(f"{k} {v:.2f} s" for k, v in report.timings.items())
    lines = [
        f"converted {report.n_converted} images into {report.n_stacks} stacks in "
        f"{elapsed:.2f} s with {args.workers} worker(s): "
        f"{report.n_converted / elapsed:.0f} images/s"
        + (f" (Fourier-cropped to {args.crop_to} px)" if cropped else ""),
        f"peak RSS: converting process {own:.0f} MiB, largest child process "
        f"(workers; the data generator) {children:.0f} MiB",
        f"stage time summed over workers: {stages}",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def main() -> int:
    """Generate the dataset in a separate process, then convert it here."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-images", type=int, default=2000)
    parser.add_argument("--box", type=int, default=128)
    parser.add_argument("--per-file", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--crop-to", type=int, help="Fourier-crop to this box (derived grid)"
    )
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate is not None:
        make_dataset(args.generate, args.n_images, args.box, args.per_file)
        return 0
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        started = time.perf_counter()
        # A separate process, so that generating the data does not count in the
        # peak RSS of the conversion (Linux keeps the high-water mark over exec).
        command = [sys.executable, __file__, "--generate", str(root)]
        command += ["--n-images", str(args.n_images), "--box", str(args.box)]
        subprocess.run([*command, "--per-file", str(args.per_file)], check=True)
        sys.stdout.write(
            f"dataset: {args.n_images} images of {args.box}² px in files of "
            f"{args.per_file} (generated in {time.perf_counter() - started:.1f} s)\n"
        )
        return convert(root, args)


if __name__ == "__main__":
    raise SystemExit(main())
