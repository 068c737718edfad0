"""Conversion benchmark: transform only, end to end to tmpfs and to disk, the disk floor.

For each box size (default 128 and 256 px) it generates a synthetic CryoSPARC dataset
(noisy images in MRC stacks of ``--per-file`` images and an indexed ``.cs`` file) on
tmpfs, then prints, in one run:

- transform only: images/s of the engine call (centred images → normalised polar
  Fourier transforms) on one thread and on one thread per core;
- end to end to tmpfs (``/dev/shm``) and to disk (``--disk-dir``): each conversion
  runs as a plain script with the defaults (``workers=None``, ``batch_size=1024``)
  except ``flag_plots=False``, single precision, in a fresh process, which reports its
  images/s, peak RSS and the seconds per stage (summed over threads);
- the disk floor: a plain loop that writes the same files (same sizes, 16 MiB writes)
  to the same folder and fsyncs each once before renaming it, just before and just
  after the disk conversion (the disk is shared and its rate drifts).

Images per CPU-second are printed beside images/s: on a shared machine they stay
meaningful when other processes take cores (the load average is printed too).

    python benchmarks/bench_convert.py
    python benchmarks/bench_convert.py --boxes 128 --n-images 20000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from cryolike_convert.execution.batch import block_size, transform_block
from cryolike_convert.execution.stream import single_threaded_torch
from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.options import resolve_workers
from cryolike_convert.testing import cs_table, write_cs, write_mrc_stack
from cryolike_convert.transform.preprocess import center_images

#: Images per box size when ``--n-images`` is not given (~2.6 GB of output each).
DEFAULT_IMAGES = {64: 20000, 128: 8000, 256: 2000, 320: 1200}
FLOOR_WRITE = 16 << 20

# What a user writes: no main guard, defaults except plots. Prints its figures as JSON.
PLAIN_SCRIPT = """
import json, resource, sys, time
from pathlib import Path
from cryolike_convert.file_conversions.particle_stacks_wrappers import (
    convert_particle_stacks_from_indexed_cryosparc_file,
)
started, cpu = time.perf_counter(), time.process_time()
report = convert_particle_stacks_from_indexed_cryosparc_file(
    params_input=sys.argv[1], file_cs=sys.argv[2], folder_output=sys.argv[3],
    flag_plots=False,
)
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
# VmHWM: this process's own peak (ru_maxrss keeps the parent's across fork + exec).
status = Path("/proc/self/status")
lines = status.read_text().splitlines() if status.exists() else []
peak = [int(line.split()[1]) / 1024 for line in lines if line.startswith("VmHWM")]
print(json.dumps({
    "elapsed": elapsed, "cpu": cpu, "n_images": report.n_converted,
    "n_stacks": report.n_stacks,
    "timings": report.timings,
    "rss_mib": peak[0] if peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def filesystem(path: Path) -> str:
    """The file system type of ``path`` (from ``/proc/mounts``; '?' elsewhere)."""
    try:
        mounts = [
            line.split() for line in Path("/proc/mounts").read_text().splitlines()
        ]
    except OSError:
        return "?"
    best, kind = "", "?"
    resolved = str(path.resolve())
    for fields in mounts:
        point = fields[1]
        inside = resolved == point or resolved.startswith(point.rstrip("/") + "/")
        if inside and len(point) > len(best):
            best, kind = point, fields[2]
    return kind


def make_dataset(root: Path, n_images: int, box: int, per_file: int) -> None:
    """Write the stacks, the ``.cs`` file and ``params.npz`` under ``root``."""
    rng = np.random.default_rng(0)
    axis = np.arange(box) - box // 2
    blob = np.exp(-(axis[:, None] ** 2 + axis[None, :] ** 2) / (2 * (box / 8) ** 2))
    paths: list[str] = []
    indices: list[int] = []
    for number, start in enumerate(range(0, n_images, per_file)):
        count = min(per_file, n_images - start)
        images = rng.normal(size=(count, box, box)).astype(np.float32)
        images -= blob.astype(np.float32)
        relative = f"J1/extract/stack_{number:05d}.mrc"
        write_mrc_stack(root / relative, images, 1.0)
        paths += [relative] * count
        indices += list(range(count))
    table = cs_table(n_images, paths=paths, indices=np.array(indices), pixel_size=1.0)
    write_cs(root / "J2" / "J2_particles.cs", table)
    ImageDescriptor.from_individual_values(box, 1.0).save(root / "params.npz")


def transform_rate(box: int, threads: int, seconds: float = 4.0) -> tuple[float, float]:
    """Images/s and images per CPU-second of :func:`transform_block`.

    On blocks of random centred images, ``threads`` blocks at a time, with torch's
    own pool at one thread as in a conversion.
    """
    descriptor = ImageDescriptor.from_individual_values(box, 1.0)
    size = block_size(descriptor)
    rng = np.random.default_rng(1)
    images = center_images(rng.normal(size=(size, box, box)).astype(np.float32))
    transform_block(images, descriptor)  # plan, tables
    n_blocks = 0
    started, cpu = time.perf_counter(), time.process_time()
    with single_threaded_torch(), ThreadPoolExecutor(threads) as pool:
        while time.perf_counter() - started < seconds:
            round_ = [
                pool.submit(transform_block, images, descriptor) for _ in range(threads)
            ]
            for future in round_:
                future.result()
            n_blocks += threads
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return n_blocks * size / elapsed, n_blocks * size / cpu


def convert(data: Path, out: Path) -> dict[str, float]:
    """Run the plain script in a fresh process; return its figures."""
    command = [sys.executable, "-c", PLAIN_SCRIPT, str(data / "params.npz")]
    command += [str(data / "J2" / "J2_particles.cs"), str(out)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def disk_floor(sizes: list[int], folder: Path) -> float:
    """Seconds to write files of ``sizes`` into ``folder``, each fsynced once, renamed."""
    folder.mkdir(parents=True, exist_ok=True)
    data = memoryview(np.random.default_rng(2).bytes(FLOOR_WRITE))
    started = time.perf_counter()
    for number, size in enumerate(sizes):
        temporary = folder / f".floor_{number:06d}.tmp"
        with open(temporary, "wb") as handle:
            left = size
            while left:
                left -= handle.write(data[: min(left, FLOOR_WRITE)])
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, folder / f"floor_{number:06d}")
    descriptor = os.open(folder, os.O_RDONLY)
    os.fsync(descriptor)
    os.close(descriptor)
    elapsed = time.perf_counter() - started
    shutil.rmtree(folder)
    return elapsed


def stage_text(figures: dict[str, float]) -> str:
    timings: dict[str, float] = figures["timings"]  # type: ignore[assignment]
    return ", ".join(f"{stage} {seconds:.1f}" for stage, seconds in timings.items())


def bench_box(box: int, n_images: int, args: argparse.Namespace) -> list[str]:
    """All figures for one box size, as lines."""
    workers = resolve_workers(None)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        f"box {box} px, {n_images} images, {workers} threads "
        f"(load average before: {load:.1f}):"
    ]
    one, one_cpu = transform_rate(box, 1)
    every, every_cpu = transform_rate(box, workers)
    lines.append(
        f"  transform only      {one:7.0f} images/s on 1 thread, "
        f"{every:.0f} on {workers} ({one_cpu:.0f} and {every_cpu:.0f} per CPU-second)"
    )
    with tempfile.TemporaryDirectory(dir="/dev/shm") as shm:
        data = Path(shm) / "data"
        make_dataset(data, n_images, box, args.per_file)
        tmpfs = convert(data, Path(shm) / "out")
        shutil.rmtree(Path(shm) / "out")
        lines.append(
            f"  end to end, tmpfs   {tmpfs['n_images'] / tmpfs['elapsed']:7.0f} images/s "
            f"({tmpfs['elapsed']:.1f} s; {tmpfs['n_images'] / tmpfs['cpu']:.0f} images "
            f"per CPU-second; peak RSS {tmpfs['rss_mib']:.0f} MiB; "
            f"stage seconds summed over threads: {stage_text(tmpfs)})"
        )
        with tempfile.TemporaryDirectory(dir=args.disk_dir) as disk:
            out = Path(disk) / "out"
            sizes_guess = _output_sizes_guess(box, n_images)
            before = disk_floor(sizes_guess, Path(disk) / "floor")
            on_disk = convert(data, out)
            sizes = [p.stat().st_size for p in sorted(out.glob("*/*")) if p.is_file()]
            shutil.rmtree(out)
            after = disk_floor(sizes, Path(disk) / "floor")
    floor_rate = n_images / ((before + after) / 2)
    rate = on_disk["n_images"] / on_disk["elapsed"]
    lines += [
        f"  end to end, disk    {rate:7.0f} images/s "
        f"({on_disk['elapsed']:.1f} s; {on_disk['n_images'] / on_disk['cpu']:.0f} "
        f"images per CPU-second; peak RSS {on_disk['rss_mib']:.0f} MiB; "
        f"stages: {stage_text(on_disk)})",
        f"  disk floor          {floor_rate:7.0f} images/s "
        f"(same bytes, fsync per file: {n_images / before:.0f} before, "
        f"{n_images / after:.0f} after; {sum(sizes) / 1e6 / ((before + after) / 2):.0f} MB/s)",
        f"  disk / floor        {100 * rate / floor_rate:7.0f} %",
    ]
    return lines


def _output_sizes_guess(box: int, n_images: int, batch_size: int = 1024) -> list[int]:
    """File sizes of the output before it exists (for the floor run before it)."""
    descriptor = ImageDescriptor.from_individual_values(box, 1.0)
    grid = descriptor.polar_grid
    sizes = []
    for start in range(0, n_images, batch_size):
        count = min(batch_size, n_images - start)
        sizes += [count * grid.n_points * 8, count * box * box * 4, 40_000]
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--boxes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--n-images", type=int, help="per box (default: ~2.6 GB out)")
    parser.add_argument("--per-file", type=int, default=500)
    parser.add_argument(
        "--disk-dir",
        type=Path,
        default=Path(tempfile.gettempdir()),
        help="folder on the disk to measure (default: the temporary folder)",
    )
    args = parser.parse_args()
    kind = filesystem(args.disk_dir)
    sys.stdout.write(
        f"{os.cpu_count()} cores; tmpfs /dev/shm; disk {args.disk_dir} ({kind})\n"
    )
    if kind in ("tmpfs", "ramfs"):
        sys.stdout.write("warning: --disk-dir is in memory, not on a disk\n")
    for box in args.boxes:
        n_images = args.n_images or DEFAULT_IMAGES.get(box, 2000)
        sys.stdout.write("\n".join(bench_box(box, n_images, args)) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
