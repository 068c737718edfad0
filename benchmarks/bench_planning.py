"""Planning benchmark: check and plan 10 million rows the way ``pipeline.run`` does.

Builds a synthetic :class:`ParticleMetadata` directly with numpy (no images, no
images: the stack files are empty and their headers faked), then times path
resolution, the up-front checks, ``plan_batches`` and the ``BatchTask`` creation of
the first stacks (``metadata.take`` per task), and prints seconds per stage and the
peak RSS.

    python benchmarks/bench_planning.py --n-rows 10000000
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from itertools import islice
from pathlib import Path
from typing import TypeVar

import numpy as np

from cryolike_convert.execution import checks, pipeline
from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.metadata import ParticleMetadata
from cryolike_convert.options import ConversionOptions
from cryolike_convert.output.layout import OutputLayout
from cryolike_convert.readers.mrc import StackInfo
from cryolike_convert.readers.paths import resolve_stack_paths

BOX = 128
PIXEL_SIZE = 1.0
T = TypeVar("T")


def make_metadata(n_rows: int, per_file: int, shuffle: bool) -> ParticleMetadata:
    """CryoSPARC-like columns: ``>J3/extract/NNNNNN_mic_particles.mrc`` paths (bytes).

    Rows come grouped by stack file, as extraction writes them (files in random
    order); ``shuffle`` permutes all rows instead (the worst case).
    """
    rng = np.random.default_rng(0)
    n_files = -(-n_rows // per_file)
    names = np.array(
        [f">J3/extract/{i:06d}_mic_particles.mrc".encode() for i in range(n_files)]
    )
    if shuffle:
        order = rng.permutation(n_rows)
    else:
        files = rng.permutation(n_files)
        order = (files[:, None] * per_file + np.arange(per_file)).reshape(-1)
        order = order[order < n_rows]
    file_number = order // per_file
    full = np.full(n_rows, 1.0, dtype=np.float32)
    return ParticleMetadata(
        source_path=Path("/data/P1/J5/J5_particles_selected.cs"),
        source_row=np.arange(n_rows, dtype=np.int64),
        stored_path=names[file_number],
        stored_index=(order % per_file).astype(np.uint32),
        stack_index=(order % per_file).astype(np.int64),
        defocus_u_angstrom=rng.uniform(1e4, 3e4, n_rows).astype(np.float32),
        defocus_v_angstrom=rng.uniform(1e4, 3e4, n_rows).astype(np.float32),
        defocus_angle_rad=rng.uniform(0, 3, n_rows).astype(np.float32),
        phase_shift_rad=np.zeros(n_rows, dtype=np.float32),
        voltage_kv=full * 300,
        spherical_aberration_mm=full * 2.7,
        amplitude_contrast_fraction=full * 0.1,
        pixel_size_angstrom=full * PIXEL_SIZE,
        uid=rng.integers(0, 2**63, n_rows, dtype=np.uint64),
    )


def fake_inspect_stack(per_file: int) -> Callable[[Path], StackInfo]:
    """A header reader that needs no image data: ``per_file`` images of BOX² px."""

    def inspect(path: Path) -> StackInfo:
        return StackInfo(
            path=path,
            n_images=per_file,
            shape=(BOX, BOX),
            voxel_size_angstrom=PIXEL_SIZE,
            permissive=False,
        )

    return inspect


def make_stack_folder(root: Path, metadata: ParticleMetadata) -> Path:
    """Empty files with the stacks' names, for the path resolution to find."""
    folder = root / "extract"
    folder.mkdir()
    for stored in np.unique(metadata.stored_path):
        (folder / Path(stored.decode()).name).touch()
    return folder


def timed(label: str, timings: dict[str, float], work: Callable[[], T]) -> T:
    """Run ``work`` and record its wall time under ``label``."""
    started = time.perf_counter()
    result = work()
    timings[label] = time.perf_counter() - started
    return result


def plan(
    metadata: ParticleMetadata, options: ConversionOptions, n_tasks: int
) -> dict[str, float]:
    """Check, plan and make the first tasks as ``pipeline.run`` does; time each."""
    timings: dict[str, float] = {}
    descriptor = ImageDescriptor.from_individual_values(
        n_pixels=BOX, pixel_size=PIXEL_SIZE
    )
    prepared = timed(
        "check inputs",
        timings,
        lambda: pipeline._check_inputs(metadata, descriptor, options, None),
    )
    plans, _ = timed(
        "plan_batches",
        timings,
        lambda: pipeline.plan_batches(prepared.kept, options.batch_size),
    )
    layout = OutputLayout(Path("/nonexistent/out"))
    tasks = pipeline._tasks(plans, metadata, descriptor, layout, options, prepared)
    first = timed(
        f"first {n_tasks} tasks", timings, lambda: list(islice(tasks, n_tasks))
    )
    if sum(len(task.rows) for task in first) != sum(
        len(p.positions) for p in plans[:n_tasks]
    ):
        raise RuntimeError("tasks do not hold their plans' rows")
    return timings


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one line per stage."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-rows", type=int, default=10_000_000)
    parser.add_argument("--per-file", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--n-tasks", type=int, default=100)
    parser.add_argument(
        "--shuffle", action="store_true", help="rows in random order (worst case)"
    )
    args = parser.parse_args(argv)
    timings: dict[str, float] = {}
    raw = timed(
        "build metadata (not counted)",
        timings,
        lambda: make_metadata(args.n_rows, args.per_file, args.shuffle),
    )
    checks.inspect_stack = fake_inspect_stack(args.per_file)  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as root:
        folder = make_stack_folder(Path(root), raw)
        started = time.perf_counter()
        metadata, _ = timed(
            "resolve_stack_paths", timings, lambda: resolve_stack_paths(raw, folder)
        )
        options = ConversionOptions(batch_size=args.batch_size, make_plots=False)
        timings.update(plan(metadata, options, args.n_tasks))
        total = time.perf_counter() - started
    for label, seconds in timings.items():
        print(f"{label:>30}: {seconds:8.2f} s")
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"{args.n_rows} rows planned in {total:.2f} s; peak RSS {peak_gib:.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
