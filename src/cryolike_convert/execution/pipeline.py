"""plan_batches → convert_batch (``batch.py``, one stack per worker) → run."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cryolike_convert.errors import (
    ConversionInterrupted,
    ConversionWarning,
    ImageStackError,
    OutputError,
)
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
    check_stacks,
    determine_pixel_size,
)
from cryolike_convert.execution.children import ChildProcesses
from cryolike_convert.execution.duplicates import Duplicates, find_duplicates
from cryolike_convert.execution.executors import main_module_is_spawn_safe, map_in_order
from cryolike_convert.execution.interrupt import (
    SignalGuard,
    interruption,
    keep_finished,
    stop_workers,
)
from cryolike_convert.execution.library_warnings import routed_warnings
from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.metadata import ParticleMetadata
from cryolike_convert.options import ConversionOptions, resolve_workers
from cryolike_convert.output.input_stamps import stamp_files
from cryolike_convert.output.layout import OutputLayout
from cryolike_convert.output.lock import acquire_output_lock
from cryolike_convert.output.manifest import (
    REBUILD,
    Manifest,
    check_resumable,
    finished_stack,
    manifest_header,
    prepare_output,
    remove_temporaries,
    remove_unrecorded,
    row_ranges,
)
from cryolike_convert.output.rebuild import recovered_entry
from cryolike_convert.output.removal import remove_run_files
from cryolike_convert.readers.paths import ResolvedStack, resolve_user_path


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
    lock: dict[str, Any] = field(default_factory=dict)


ProgressCallback = Callable[[StackRecord, int, int], None]


@dataclass(frozen=True, slots=True)
class _Prepared:
    kept: np.ndarray
    skipped: list[SkippedRow]
    pixel_size: PixelSize
    permissive: frozenset[str]
    warnings: tuple[dict[str, str], ...] = ()
    stamps: dict[str, dict[str, int]] = field(default_factory=dict)
    duplicates: tuple[Duplicates, ...] = ()


def _check_inputs(
    metadata: ParticleMetadata,
    descriptor: ImageDescriptor,
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
    check_grid(descriptor, shape, pixel_size.angstrom, options.downsample_factor)
    check_lens_scalars(kept_rows)
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
            stacklevel=4,
        )
    duplicates = tuple(find_duplicates(kept_rows))
    for found in duplicates:
        warnings.warn(found.text, ConversionWarning, stacklevel=4)
    return _Prepared(
        kept,
        skipped,
        pixel_size,
        permissive,
        notes,
        stamp_files(used),
        duplicates,
    )


def run(
    metadata: ParticleMetadata,
    descriptor: ImageDescriptor,
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

    Every problem with the inputs is found before the first file is written. The
    output folder is locked for the run (see :mod:`cryolike_convert.output.lock`).
    A run that fails part-way removes the files it wrote (a resumed run keeps the
    stacks that were already finished). A run stopped by Ctrl-C or SIGTERM keeps
    its finished stacks, marks the manifest ``interrupted`` and raises
    :class:`~cryolike_convert.errors.ConversionInterrupted`; no worker process
    outlives it. ``rows_without_images`` (``{"rows": ranges, "reason": ...}``) and
    ``notes`` (warnings) are reported in the manifest and the report.

    Raises
    ------
    ConversionError
        Any problem with the inputs, the options or the output folder.
    ConversionInterrupted
        When stopped by SIGINT or SIGTERM.
    """
    with SignalGuard() as guard, ExitStack() as scope, routed_warnings():
        return _run(
            metadata,
            descriptor,
            output_dir,
            options,
            inputs=inputs,
            resolution=resolution,
            progress=progress,
            rows_without_images=rows_without_images,
            notes=notes,
            guard=guard,
            scope=scope,
        )


def _run(
    metadata: ParticleMetadata,
    descriptor: ImageDescriptor,
    output_dir: str | os.PathLike[str],
    options: ConversionOptions,
    *,
    inputs: dict[str, Any],
    resolution: list[ResolvedStack] | None,
    progress: ProgressCallback | None,
    rows_without_images: list[dict[str, Any]] | None,
    notes: list[str] | None,
    guard: SignalGuard,
    scope: ExitStack,
) -> ConversionReport:
    started = time.perf_counter()
    children = ChildProcesses()
    prepared = _check_inputs(metadata, descriptor, options, resolution)
    groups = metadata.group if options.flush_per_group else None
    plans, left_out = plan_batches(
        prepared.kept, options.batch_size, options.n_stacks_max, groups
    )
    layout = OutputLayout(resolve_user_path(output_dir, "output folder", OutputError))
    lock = scope.enter_context(acquire_output_lock(layout.root))
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
            "output_angstrom": source.angstrom * options.downsample_factor,
        },
        resolution=resolution,
        image_sign=None if metadata.sign is None else np.unique(metadata.sign).tolist(),
        stack_stamps=prepared.stamps,
    )
    rebuilt = previous is not None and REBUILD in previous
    if previous is not None and not rebuilt:
        check_resumable(layout, previous, header)
    messages = [
        f"{n['file']}: read permissively ({n['warning']})" for n in prepared.warnings
    ]
    messages += [found.text for found in prepared.duplicates]
    manifest = Manifest(
        layout,
        {**header, "lock": lock.describe()},
        warnings=messages + list(notes or []),
    )
    if prepared.duplicates:
        manifest.header["duplicates"] = [d.describe() for d in prepared.duplicates]
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
    if rebuilt:
        done = _recover_stacks(plans, metadata, descriptor, layout, options, prepared)
        manifest.warnings.append(
            f"{previous[REBUILD]}; rebuilt from {len(done)} stack(s) on disk that "  # type: ignore[index]
            "match the inputs"
        )
    else:
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
    n_todo = len(plans) - len(done)
    results = map_in_order(
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
    )
    try:
        for record in results:
            manifest.stacks[record.number] = record.to_entry()
            manifest.write()
            converted += record.n_images
            for stage, seconds in record.timings.items():
                totals[stage] += seconds
            if progress is not None:
                progress(record, converted, total_images)
        remove_temporaries(layout)  # left by workers killed mid-write and then retried
        manifest.status = "complete"
        manifest.write()
    except BaseException as error:
        guard.calm()
        stop_workers(results, error, children)
        number = interruption(error, guard)
        if number is not None:
            keep_finished(manifest)
            raise ConversionInterrupted(
                number, n_stacks_kept=len(manifest.stacks), output_dir=layout.root
            ) from error
        remove_unrecorded(layout, manifest.to_dict())
        if previous is None:
            remove_run_files(layout)
        raise
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
        lock=lock.describe(),
    )


def _recover_stacks(
    plans: list[BatchPlan],
    metadata: ParticleMetadata,
    descriptor: ImageDescriptor,
    layout: OutputLayout,
    options: ConversionOptions,
    prepared: _Prepared,
) -> dict[int, dict[str, Any]]:
    """Stacks on disk that hold what this run would write (damaged manifest)."""
    found: dict[int, dict[str, Any]] = {}
    for plan in plans:
        entry = recovered_entry(
            layout,
            plan.number,
            metadata.take(plan.positions).with_compact_files(),
            descriptor,
            prepared.pixel_size.from_metadata,
            plan.stack_range,
            options.make_plots,
        )
        if entry is not None:
            found[plan.number] = entry
    return found


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
