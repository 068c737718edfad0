"""plan_batches → convert_batch (``batch.py``, one stack per worker) → run."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cryolike_convert.errors import ConversionWarning, ImageStackError
from cryolike_convert.execution.batch import (
    BatchPlan,
    BatchTask,
    StackRecord,
    convert_batch,
)
from cryolike_convert.execution.checks import (
    PixelSize,
    SkippedRow,
    check_grid,
    check_image_shape,
    check_lens_scalars,
    check_sign,
    check_stacks,
    determine_pixel_size,
)
from cryolike_convert.execution.executors import main_module_is_spawn_safe, map_in_order
from cryolike_convert.image_descriptor import DerivedGrid, ImageDescriptor
from cryolike_convert.metadata import ParticleMetadata
from cryolike_convert.options import ConversionOptions, resolve_workers
from cryolike_convert.output.derived_params import (
    DerivedParams,
    remove_previous_derived,
)
from cryolike_convert.output.layout import OutputLayout
from cryolike_convert.output.manifest import (
    Manifest,
    check_resumable,
    finished_stack,
    manifest_header,
    prepare_output,
    remove_previous_run,
    remove_temporaries,
    remove_unrecorded,
    row_ranges,
)
from cryolike_convert.readers.paths import ResolvedStack
from cryolike_convert.transform.preprocess import downsampled_geometry


def plan_batches(
    positions: np.ndarray,
    batch_size: int,
    n_stacks_max: int = -1,
    groups: np.ndarray | None = None,
) -> tuple[list[BatchPlan], np.ndarray]:
    """Split positions (in output order) into stacks of ``batch_size``.

    With ``groups`` every group (input file) is flushed into its own stacks and each
    stack records its ``[start, end)`` range within the group. ``n_stacks_max > 0``
    stops after that many stacks; the positions left out are returned.
    """
    chunks: list[tuple[np.ndarray, tuple[int, int] | None]]
    if groups is None:
        chunks = [
            (positions[i : i + batch_size], None)
            for i in range(0, len(positions), batch_size)
        ]
    else:
        chunks = []
        keys = groups[positions]
        boundaries = np.flatnonzero(np.diff(keys) != 0) + 1
        for part in np.split(positions, boundaries):
            for start in range(0, len(part), batch_size):
                piece = part[start : start + batch_size]
                chunks.append((piece, (start, start + len(piece))))
    if n_stacks_max > 0:
        left_out = [piece for piece, _ in chunks[n_stacks_max:]]
        chunks = chunks[:n_stacks_max]
    else:
        left_out = []
    plans = [
        BatchPlan(number, piece, span) for number, (piece, span) in enumerate(chunks)
    ]
    rest = np.concatenate(left_out) if left_out else np.empty(0, dtype=np.int64)
    return plans, rest


@dataclass(frozen=True, slots=True)
class ConversionReport:
    """The outcome of a run."""

    output_dir: Path
    manifest_path: Path
    n_rows: int
    n_converted: int
    n_stacks: int
    skipped: list[dict[str, Any]]
    n_unconverted: int
    n_without_image: int
    warnings: list[str]
    pixel_size: PixelSize
    elapsed_seconds: float
    timings: dict[str, float]
    stacks: list[dict[str, Any]]
    params_file: Path | None = None


ProgressCallback = Callable[[StackRecord, int, int], None]


@dataclass(frozen=True, slots=True)
class _Prepared:
    kept: np.ndarray
    skipped: list[SkippedRow]
    pixel_size: PixelSize
    permissive: frozenset[str]
    descriptor: ImageDescriptor
    output_pixel_size: float
    warnings: tuple[dict[str, str], ...] = ()


def _check_inputs(
    metadata: ParticleMetadata,
    descriptor: ImageDescriptor | DerivedGrid,
    options: ConversionOptions,
    resolution: list[ResolvedStack] | None,
) -> _Prepared:
    infos, skipped = check_stacks(
        metadata, resolution, skip=options.on_missing == "skip"
    )
    keep = np.ones(len(metadata), dtype=bool)
    keep[[item.position for item in skipped]] = False
    kept = np.flatnonzero(keep)
    if kept.size == 0:
        raise ImageStackError(f"{metadata.source_path}: no row can be converted")
    kept_rows, used = metadata, infos  # nothing skipped: no copy of 10^7 rows
    if skipped:
        kept_rows = metadata.take(kept)
        codes = np.unique(kept_rows.stack_file_index)  # type: ignore[arg-type]
        used = {metadata.stack_files[c]: infos[metadata.stack_files[c]] for c in codes}
    shape = check_image_shape(used)
    pixel_size = determine_pixel_size(kept_rows, used, options.pixel_size_angstrom)
    factor, box = options.downsample_factor, options.downsample_box
    n_out, size_out = downsampled_geometry(shape[0], pixel_size.angstrom, factor, box)
    if isinstance(descriptor, DerivedGrid):
        descriptor = descriptor.descriptor(n_out, size_out)
    check_grid(descriptor, shape, pixel_size.angstrom, factor, box)
    check_lens_scalars(kept_rows)
    check_sign(kept_rows, options.apply_sign)
    permissive = frozenset(path for path, info in used.items() if info.permissive)
    notes = tuple(
        {"file": path, "warning": text}
        for path, info in used.items()
        for text in info.warnings
    )
    for note in notes:
        warnings.warn(
            f"{note['file']}: read permissively ({note['warning']})",
            ConversionWarning,
            stacklevel=3,
        )
    return _Prepared(kept, skipped, pixel_size, permissive, descriptor, size_out, notes)


def run(
    metadata: ParticleMetadata,
    descriptor: ImageDescriptor | DerivedGrid,
    output_dir: str | os.PathLike[str],
    options: ConversionOptions,
    *,
    inputs: dict[str, Any],
    resolution: list[ResolvedStack] | None = None,
    progress: ProgressCallback | None = None,
    rows_without_images: list[dict[str, Any]] | None = None,
    notes: list[str] | None = None,
) -> ConversionReport:
    """Check everything, then convert ``metadata`` into stacks under ``output_dir``.

    Every problem with the inputs is found before the first file is written. A run
    that fails part-way removes the files it wrote (a resumed run keeps the stacks
    that were already finished). ``rows_without_images`` (``{"rows": ranges,
    "reason": ...}``) and ``notes`` (warnings) are reported in the manifest and the report.
    With a :class:`DerivedGrid` the grid comes from the data and is written to
    ``OUT/params.npz``.

    Raises
    ------
    ConversionError
        Any problem with the inputs, the options or the output folder.
    """
    started = time.perf_counter()
    prepared = _check_inputs(metadata, descriptor, options, resolution)
    groups = metadata.group if options.flush_per_group else None
    plans, left_out = plan_batches(
        prepared.kept, options.batch_size, options.n_stacks_max, groups
    )
    layout = OutputLayout(Path(output_dir).expanduser().resolve())
    derived = None
    if options.overwrite:
        remove_previous_derived(layout)
    if isinstance(descriptor, DerivedGrid):
        derived = DerivedParams(layout, prepared.descriptor)
        derived.check_writable()
        inputs = {**inputs, "params": derived.record()}
    descriptor = prepared.descriptor
    previous = prepare_output(layout, options.overwrite, options.resume)
    source = prepared.pixel_size
    header = manifest_header(
        n_rows=len(metadata),
        inputs=inputs,
        options=options.describe(),
        grid=descriptor.describe(),
        pixel_size={
            "source_angstrom": source.angstrom,
            "source": source.source,
            "output_angstrom": prepared.output_pixel_size,
        },
        resolution=resolution,
        image_sign=None if metadata.sign is None else np.unique(metadata.sign).tolist(),
        sign_applied=options.apply_sign,
    )
    if previous is not None:
        check_resumable(layout, previous, header)
    params_file = derived.write() if derived is not None else None
    messages = [
        f"{n['file']}: read permissively ({n['warning']})" for n in prepared.warnings
    ]
    manifest = Manifest(layout, header, warnings=messages + list(notes or []))
    manifest.without_images = list(rows_without_images or [])
    manifest.skipped = [
        {"row": int(metadata.source_row[s.position]), "reason": s.reason}
        for s in prepared.skipped
    ]
    manifest.unconverted = {
        "reason": f"n_stacks_max={options.n_stacks_max} reached"
        if left_out.size
        else None,
        "n_rows": int(left_out.size),
        "rows": row_ranges(np.sort(metadata.source_row[left_out])),
    }
    done = {
        e["number"]: e
        for e in (previous or {}).get("stacks", [])
        if finished_stack(layout, e)
    }
    manifest.stacks.update(done)
    manifest.write()
    totals = {"read": 0.0, "preprocess": 0.0, "transform": 0.0, "write": 0.0}
    tasks = _tasks(plans, done, metadata, descriptor, layout, options, prepared)
    total_images = int(sum(len(plan.positions) for plan in plans))
    converted = int(sum(entry["n_images"] for entry in done.values()))
    try:
        n_todo = len(plans) - len(done)
        for record in map_in_order(
            convert_batch,
            tasks,
            resolve_workers(
                options.workers,
                total_images - converted,
                n_todo,
                spawn_safe=main_module_is_spawn_safe(),
                image_pixels=descriptor.n_pixels[0] * descriptor.n_pixels[1],
            ),
            options.executor,
            options.scheduler_address,
        ):
            manifest.stacks[record.number] = record.to_entry()
            manifest.write()
            converted += record.n_images
            for stage, seconds in record.timings.items():
                totals[stage] += seconds
            if progress is not None:
                progress(record, converted, total_images)
    except BaseException:
        remove_unrecorded(layout, manifest.to_dict())
        if previous is None:
            remove_previous_run(
                layout, manifest.to_dict(), layout.existing_stack_files()
            )
            if derived is not None:
                derived.remove_if_created()
        raise
    remove_temporaries(layout)  # left by workers killed mid-write and then retried
    manifest.status = "complete"
    manifest.write()
    document = manifest.to_dict()
    return ConversionReport(
        output_dir=layout.root,
        manifest_path=layout.manifest,
        n_rows=len(metadata),
        n_converted=document["totals"]["n_converted"],
        n_stacks=len(manifest.stacks),
        skipped=manifest.skipped
        + [s for e in document["stacks"] for s in e["skipped"]],
        n_unconverted=int(left_out.size),
        n_without_image=document["totals"]["n_without_image"],
        warnings=manifest.warnings,
        pixel_size=prepared.pixel_size,
        elapsed_seconds=time.perf_counter() - started,
        timings=totals,
        stacks=document["stacks"],
        params_file=params_file,
    )


def _tasks(
    plans: list[BatchPlan],
    done: dict[int, Any],
    metadata: ParticleMetadata,
    descriptor: ImageDescriptor,
    layout: OutputLayout,
    options: ConversionOptions,
    prepared: _Prepared,
) -> Iterator[BatchTask]:
    reference = prepared.pixel_size.from_metadata
    for plan in plans:
        if plan.number in done:
            continue
        yield BatchTask(
            plan,
            metadata.take(plan.positions).with_compact_files(),
            descriptor,
            layout.root,
            options,
            reference,
            prepared.permissive,
        )
