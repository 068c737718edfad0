"""One output stack as a sequence of blocks: compute a block, append it, finish the stack.

A stack's images are processed in blocks of at most :data:`BLOCK` images (fewer for
big grids, see :func:`block_size`). :func:`compute_block` reads, screens, centres
and transforms one block; it touches no output and may run on any thread, in any
order. :class:`StackWriter` appends the blocks of one stack, in order, to its two
``.pt`` files (checksummed as they stream) and finishes the stack: fsync, rename,
npz, plots. The block split depends only on the grid and the stack, never on the
number of threads, so the output bytes do not either.
"""

from __future__ import annotations

import time
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cryolike_convert.errors import SKIP_INVALID, ImageStackError
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
from cryolike_convert.transform.precision import complex_dtype, real_dtype
from cryolike_convert.transform.preprocess import (
    center_images,
    downsample_images,
    find_invalid_images,
    fourier_crop_images,
    normalize_fourier,
)
from cryolike_convert.transform.spectrum import PowerSpectrum

#: Largest number of images per processing block, and the Fourier bytes a block
#: should stay under (blocks of 64 at 128 px, 16 at 256 px).
BLOCK = 64
BLOCK_BYTES = 16 << 20
#: Images kept for the per-stack montages.
PREVIEW = 16
#: Stages whose seconds a run reports (summed over threads).
STAGES = ("read", "preprocess", "transform", "write", "finish")


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """One output stack: its number and the metadata positions it holds, in order."""

    number: int
    positions: np.ndarray
    stack_range: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class BatchTask:
    """Everything needed to write one stack (picklable, self-contained)."""

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
    checksums: dict[str, str]
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
            "checksums": self.checksums,
            "plots": self.plots,
            "source_rows": self.source_rows,
            "skipped": self.skipped,
        }


@dataclass(frozen=True, slots=True)
class Block:
    """Rows ``[start, stop)`` of one stack's task."""

    task: BatchTask
    start: int
    stop: int


@dataclass(frozen=True, slots=True)
class BlockResult:
    """A computed block: the centred images kept, their transforms, what was skipped."""

    block: Block
    kept: np.ndarray
    images: np.ndarray
    fourier: np.ndarray
    skipped: list[dict[str, Any]]
    timings: dict[str, float]


def block_size(descriptor: ImageDescriptor) -> int:
    """Images per block: at most :data:`BLOCK`, under :data:`BLOCK_BYTES`, even."""
    grid = descriptor.polar_grid
    bytes_per_image = grid.n_points * complex_dtype(descriptor.precision).itemsize
    fitting = max(2, BLOCK_BYTES // max(bytes_per_image, 1))
    return int(min(BLOCK, fitting - fitting % 2))


def stack_blocks(task: BatchTask) -> list[Block]:
    """The blocks of one stack, in order (at least one, even for an empty stack)."""
    size, total = block_size(task.descriptor), len(task.rows)
    starts = range(0, max(total, 1), size)
    return [Block(task, start, min(start + size, total)) for start in starts]


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


def _screen(
    task: BatchTask, positions: np.ndarray, images: np.ndarray
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Positions of the valid images; the invalid ones as skips (or an error)."""
    invalid = find_invalid_images(images)
    rows = task.rows
    if invalid and task.options.on_invalid == "error":
        position, reason = next(iter(invalid.items()))
        raise ImageStackError(
            f"{rows.source_path}: {rows.row_label(int(positions[position]))} — {reason}; "
            f"pass {SKIP_INVALID} to leave such images out (they are reported)"
        )
    skipped = [
        {"row": int(rows.source_row[positions[position]]), "reason": reason}
        for position, reason in invalid.items()
    ]
    keep = np.ones(len(positions), dtype=bool)
    keep[list(invalid)] = False
    return keep, skipped


def transform_block(images: np.ndarray, descriptor: ImageDescriptor) -> np.ndarray:
    """Centred images → their normalised Fourier transforms on the polar grid.

    The one call into the transform engine.
    """
    grid, precision = descriptor.polar_grid, descriptor.precision
    source = images.astype(real_dtype(precision), copy=False)
    fourier = images_to_fourier_polar(source, grid, precision)
    return normalize_fourier(fourier, grid.integration_weights())


def compute_block(block: Block) -> BlockResult:
    """Read, pool, screen, centre and transform one block (no output is touched).

    Raises
    ------
    ImageStackError
        For a flat or non-finite image when ``on_invalid='error'``.
    InputFileError
        If a stack cannot be read.
    """
    raise_if_stopping()  # blocks queued when a signal came are not started
    task, clock = block.task, time.perf_counter
    positions = np.arange(block.start, block.stop)
    timings = dict.fromkeys(STAGES, 0.0)
    started = clock()
    if len(positions) == 0:
        n_x, n_y = task.descriptor.n_pixels
        grid = task.descriptor.polar_grid
        empty = np.empty((0, n_x, n_y), dtype=np.float32)
        fourier = np.empty(
            (0, grid.n_shells, grid.n_inplanes),
            complex_dtype(task.descriptor.precision),
        )
        return BlockResult(block, positions, empty, fourier, [], timings)
    images = _read_rows(task, positions)
    timings["read"] = clock() - started
    started = clock()
    options = task.options
    if options.apply_sign and task.rows.sign is not None:
        images *= task.rows.sign[positions, None, None].astype(np.float32)
    if options.downsample_box is not None:
        images = fourier_crop_images(images, options.downsample_box)
    images = downsample_images(
        images, options.downsample_factor, options.downsample_type
    )
    keep, skipped = _screen(task, positions, images)
    images = center_images(np.ascontiguousarray(images[keep]))
    timings["preprocess"] = clock() - started
    started = clock()
    fourier = transform_block(images, task.descriptor)
    timings["transform"] = clock() - started
    return BlockResult(block, positions[keep], images, fourier, skipped, timings)


class _Abandoned(Exception):
    """Stops a stack's writers (the run stopped before the stack was complete)."""


class StackWriter:
    """Writes one stack: its blocks appended in order, then finished.

    Opening creates the two ``.pt`` files under temporary names. :meth:`append`
    streams a block into them (checksummed as the bytes pass); :meth:`finish`
    completes them (fsync once, rename), writes the npz and the plots and returns
    the record; :meth:`abandon` removes what was written. ``finish`` may run on
    another thread than ``append``, never at the same time.
    """

    def __init__(self, task: BatchTask) -> None:
        self.task = task
        self.layout = OutputLayout(task.root)
        self.paths = self.layout.stack_files(task.plan.number)
        self.timings = dict.fromkeys(STAGES, 0.0)
        self._kept: list[np.ndarray] = []
        self._skipped: list[dict[str, Any]] = []
        self._preview_images: list[np.ndarray] = []
        self._preview_fourier: list[np.ndarray] = []
        self._power = PowerSpectrum()
        self._n_images = 0
        descriptor = task.descriptor
        grid = descriptor.polar_grid
        self._files = ExitStack()
        with self._files:
            self._phys_file = self._files.enter_context(atomic_file(self.paths["phys"]))
            self._fourier_file = self._files.enter_context(
                atomic_file(self.paths["fourier"])
            )
            self._phys = self._files.enter_context(
                TensorFileWriter(
                    self._phys_file, np.dtype(np.float32), descriptor.n_pixels
                )
            )
            self._fourier = self._files.enter_context(
                TensorFileWriter(
                    self._fourier_file,
                    complex_dtype(descriptor.precision),
                    (grid.n_shells, grid.n_inplanes),
                )
            )
            self._files = self._files.pop_all()

    def append(self, result: BlockResult) -> None:
        """Stream one computed block (the next in order) into the stack's files."""
        started = time.perf_counter()
        for stage, seconds in result.timings.items():
            self.timings[stage] += seconds
        self._kept.append(result.kept)
        self._skipped += result.skipped
        self._phys.append(result.images)
        self._fourier.append(result.fourier)
        shown = sum(len(block) for block in self._preview_images)
        if self.task.options.make_plots and shown < PREVIEW:
            self._preview_images.append(result.images[: PREVIEW - shown].copy())
            self._preview_fourier.append(result.fourier[: PREVIEW - shown].copy())
        if self.task.options.make_plots and len(result.fourier):
            self._power.add(result.fourier)
        self._n_images += len(result.fourier)
        self.timings["write"] += time.perf_counter() - started

    def abandon(self) -> None:
        """Remove the temporary files; nothing of this stack is left."""
        reason = _Abandoned()
        with suppress(_Abandoned):
            self._files.__exit__(_Abandoned, reason, None)

    def finish(self) -> StackRecord:
        """Complete the ``.pt`` files (fsync, rename), write the npz and the plots.

        Raises
        ------
        OutputError
            If a file cannot be written.
        """
        started = time.perf_counter()
        self._files.close()
        checksums = {
            "phys": self._phys_file.checksum(),
            "fourier": self._fourier_file.checksum(),
        }
        task, layout = self.task, self.layout
        kept = np.concatenate(self._kept) if self._kept else np.empty(0, np.int64)
        rows = task.rows.take(kept)
        arrays = stack_npz_arrays(
            task.descriptor, rows, task.reference_pixel_size, task.plan.stack_range
        )
        checksums["npz"] = save_npz(self.paths["npz"], arrays)
        plots = self._plots(rows) if task.options.make_plots and self._n_images else {}
        self.timings["finish"] += time.perf_counter() - started
        return StackRecord(
            number=task.plan.number,
            n_images=len(rows),
            files={kind: layout.relative(path) for kind, path in self.paths.items()},
            checksums={kind: checksums[kind] for kind in self.paths},
            plots=plots,
            source_rows=row_ranges(rows.source_row),
            skipped=self._skipped,
            timings=self.timings,
        )

    def _plots(self, rows: ParticleMetadata) -> dict[str, str]:
        from cryolike_convert.output.plots import image_labels, save_stack_plots

        plot_paths = self.layout.plot_files(self.task.plan.number)
        shown = rows.take(np.arange(min(PREVIEW, len(rows))))
        save_stack_plots(
            np.concatenate(self._preview_images),
            np.concatenate(self._preview_fourier),
            self.task.descriptor,
            plot_paths,
            power=self._power,
            labels=image_labels(shown.source_row, shown.uid),
        )
        return {kind: self.layout.relative(path) for kind, path in plot_paths.items()}
