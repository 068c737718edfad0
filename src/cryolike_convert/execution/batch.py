"""One output stack, converted by one worker: read → preprocess → transform → write.

The images of a stack are processed in blocks of :data:`BLOCK` and streamed into the
``.pt`` files, so a worker's memory is a few blocks whatever the stack size.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cryolike_convert.errors import ImageStackError
from cryolike_convert.execution.interrupt import raise_if_stopping
from cryolike_convert.formats.tensorfile import TensorFileWriter
from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.metadata import ParticleMetadata
from cryolike_convert.options import ConversionOptions
from cryolike_convert.output.layout import OutputLayout, atomic_file, save_npz
from cryolike_convert.output.manifest import row_ranges
from cryolike_convert.output.stack_npz import stack_npz_arrays
from cryolike_convert.readers.mrc import read_images
from cryolike_convert.transform.engine import images_to_fourier_polar
from cryolike_convert.transform.preprocess import (
    center_images,
    downsample_images,
    find_invalid_images,
    normalize_fourier,
)
from cryolike_convert.transform.spectrum import PowerSpectrum

#: Largest number of images per processing block, and the Fourier bytes a block
#: should stay under (blocks of 64 at 128 px, 16 at 256 px).
BLOCK = 64
BLOCK_BYTES = 16 << 20
#: Images kept for the per-stack montages.
PREVIEW = 16


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """One output stack: its number and the metadata positions it holds, in order."""

    number: int
    positions: np.ndarray
    stack_range: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class BatchTask:
    """Everything one worker needs to write one stack (picklable, self-contained)."""

    plan: BatchPlan
    rows: ParticleMetadata
    descriptor: ImageDescriptor
    root: Path
    options: ConversionOptions
    reference_pixel_size: float | None
    permissive: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class StackRecord:
    """What one written stack holds; becomes its manifest entry."""

    number: int
    n_images: int
    files: dict[str, str]
    sha256: dict[str, str]
    plots: dict[str, str]
    source_rows: list[list[int]]
    skipped: list[dict[str, Any]]
    timings: dict[str, float] = field(default_factory=dict)

    def to_entry(self) -> dict[str, Any]:
        """The manifest entry."""
        return {
            "number": self.number,
            "n_images": self.n_images,
            "files": self.files,
            "sha256": self.sha256,
            "plots": self.plots,
            "source_rows": self.source_rows,
            "skipped": self.skipped,
        }


@dataclass
class _Progress:
    """What the blocks of one stack leave behind: kept rows, skips, preview, timings."""

    kept: list[np.ndarray] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    images: list[np.ndarray] = field(default_factory=list)
    fourier: list[np.ndarray] = field(default_factory=list)
    power: PowerSpectrum = field(default_factory=PowerSpectrum)
    timings: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(
            ("read", "preprocess", "transform", "write"), 0.0
        )
    )

    def add_preview(self, images: np.ndarray, fourier: np.ndarray) -> None:
        shown = sum(len(block) for block in self.images)
        if shown < PREVIEW:
            self.images.append(images[: PREVIEW - shown].copy())
            self.fourier.append(fourier[: PREVIEW - shown].copy())
        self.power.add(fourier)


def _read_rows(task: BatchTask, positions: np.ndarray) -> np.ndarray:
    rows = task.rows
    codes = rows.stack_file_index
    if codes is None:
        raise ImageStackError(f"{rows.source_path}: stack paths were never resolved")
    block_codes = codes[positions]
    out: np.ndarray | None = None
    for code in dict.fromkeys(block_codes.tolist()):
        where = np.flatnonzero(block_codes == code)
        path = rows.stack_files[code]
        images = read_images(
            path, rows.stack_index[positions[where]], permissive=path in task.permissive
        )
        if out is None:
            out = np.empty((len(positions), *images.shape[1:]), dtype=np.float32)
        out[where] = images
    if out is None:
        raise ImageStackError(f"{rows.source_path}: empty block of rows")
    return out


def _prepare_block(
    task: BatchTask, positions: np.ndarray, state: _Progress
) -> np.ndarray:
    """Read, pool, screen and centre one block; returns the centred kept images."""
    clock = time.perf_counter
    started = clock()
    images = _read_rows(task, positions)
    state.timings["read"] += clock() - started
    started = clock()
    options = task.options
    images = downsample_images(
        images, options.downsample_factor, options.downsample_type
    )
    invalid = find_invalid_images(images)
    rows = task.rows
    if invalid and options.on_invalid == "error":
        position, reason = next(iter(invalid.items()))
        raise ImageStackError(
            f"{rows.source_path}: {rows.row_label(int(positions[position]))} — {reason}; "
            "pass on_invalid='skip' to leave such images out (they are reported)"
        )
    for position, reason in invalid.items():
        state.skipped.append(
            {"row": int(rows.source_row[positions[position]]), "reason": reason}
        )
    keep = np.ones(len(positions), dtype=bool)
    keep[list(invalid)] = False
    state.kept.append(positions[keep])
    images = center_images(np.ascontiguousarray(images[keep]))
    state.timings["preprocess"] += clock() - started
    return images


def _block_size(bytes_per_image: int) -> int:
    """Images per block: at most :data:`BLOCK`, under :data:`BLOCK_BYTES`, even."""
    fitting = max(2, BLOCK_BYTES // max(bytes_per_image, 1))
    return int(min(BLOCK, fitting - fitting % 2))


def _transform_block(images: np.ndarray, descriptor: ImageDescriptor) -> np.ndarray:
    grid, precision = descriptor.polar_grid, descriptor.precision
    source = images.astype(np.float64) if precision == "double" else images
    fourier = images_to_fourier_polar(source, grid, precision)
    return normalize_fourier(fourier, grid.integration_weights())


def _write_tensors(
    task: BatchTask, paths: dict[str, Path], state: _Progress
) -> dict[str, str]:
    descriptor = task.descriptor
    grid = descriptor.polar_grid
    complex_dtype = np.dtype(
        np.complex64 if descriptor.precision == "single" else np.complex128
    )
    clock = time.perf_counter
    row_shapes = (descriptor.n_pixels, (grid.n_shells, grid.n_inplanes))
    with (
        atomic_file(paths["phys"]) as phys_handle,
        atomic_file(paths["fourier"]) as handle,
        TensorFileWriter(phys_handle, np.dtype(np.float32), row_shapes[0]) as phys,
        TensorFileWriter(handle, complex_dtype, row_shapes[1]) as fourier,
    ):
        block = _block_size(grid.n_points * complex_dtype.itemsize)
        for start in range(0, len(task.rows), block):
            raise_if_stopping()  # a signal stops threads between blocks
            positions = np.arange(start, min(start + block, len(task.rows)))
            images = _prepare_block(task, positions, state)
            started = clock()
            transformed = _transform_block(images, descriptor)
            state.timings["transform"] += clock() - started
            started = clock()
            phys.append(images)
            fourier.append(transformed)
            state.add_preview(images, transformed)
            state.timings["write"] += clock() - started
        started = clock()
    state.timings["write"] += clock() - started
    return {
        "phys": phys_handle.digest.hexdigest(),
        "fourier": handle.digest.hexdigest(),
    }


def convert_batch(task: BatchTask) -> StackRecord:
    """Read, transform and write one stack; return its record.

    Raises
    ------
    ImageStackError
        For a flat or non-finite image when ``on_invalid='error'``.
    OutputError
        If a file cannot be written.
    """
    layout = OutputLayout(task.root)
    paths = layout.stack_files(task.plan.number)
    state = _Progress()
    # Bad pixels are found and reported by find_invalid_images; numpy's own
    # floating-point warnings would only print ahead of that report.
    with np.errstate(all="ignore"):
        digests = _write_tensors(task, paths, state)
    started = time.perf_counter()
    kept = np.concatenate(state.kept) if state.kept else np.empty(0, dtype=np.int64)
    rows = task.rows.take(kept)
    arrays = stack_npz_arrays(
        task.descriptor, rows, task.reference_pixel_size, task.plan.stack_range
    )
    digests["npz"] = save_npz(paths["npz"], arrays)
    plots: dict[str, str] = {}
    if task.options.make_plots and state.power.n_images:
        from cryolike_convert.output.plots import image_labels, save_stack_plots

        plot_paths = layout.plot_files(task.plan.number)
        shown = rows.take(np.arange(min(PREVIEW, len(rows))))
        save_stack_plots(
            np.concatenate(state.images),
            np.concatenate(state.fourier),
            task.descriptor,
            plot_paths,
            power=state.power,
            labels=image_labels(shown.source_row, shown.uid),
        )
        plots = {kind: layout.relative(path) for kind, path in plot_paths.items()}
    state.timings["write"] += time.perf_counter() - started
    return StackRecord(
        number=task.plan.number,
        n_images=len(rows),
        files={kind: layout.relative(path) for kind, path in paths.items()},
        sha256=digests,
        plots=plots,
        source_rows=row_ranges(rows.source_row),
        skipped=state.skipped,
        timings=state.timings,
    )
