"""A conversion run: check → plan → prepare the output → convert → finish."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
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
    STAGES,
    BatchPlan,
    BatchTask,
    StackRecord,
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
from cryolike_convert.execution.duplicates import Duplicates, find_duplicates
from cryolike_convert.execution.executors import execute
from cryolike_convert.execution.interrupt import (
    SignalGuard,
    interruption,
    keep_finished,
)
from cryolike_convert.execution.library_warnings import routed_warnings
from cryolike_convert.execution.stream import BlockDone
from cryolike_convert.image_descriptor import DerivedGrid, ImageDescriptor
from cryolike_convert.metadata import ParticleMetadata
from cryolike_convert.options import ConversionOptions, resolve_workers
from cryolike_convert.output.derived_params import (
    DerivedParams,
    remove_previous_derived,
)
from cryolike_convert.output.input_stamps import stamp_files
from cryolike_convert.output.layout import OutputLayout
from cryolike_convert.output.lock import OutputLock, acquire_output_lock
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
    n_reused_stacks: int = 0
    params_file: Path | None = None
    lock: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ConversionProgress:
    """Where a run stands; passed to the ``progress`` callback.

    The callback is called once when conversion starts (the totals are known then,
    and so are the stacks a resumed run reuses), after every block of images written,
    and after every stack recorded in the manifest (``stack`` is then its record).
    Counts include the reused stacks; with ``executor='dask'`` only stacks report.
    """

    images_done: int
    images_total: int
    stacks_done: int
    stacks_total: int
    stacks_reused: int
    images_reused: int
    stack: StackRecord | None = None


ProgressCallback = Callable[[ConversionProgress], None]


@dataclass(frozen=True, slots=True)
class _Run:
    """What a run was asked to do (``run``'s arguments)."""

    metadata: ParticleMetadata
    descriptor: ImageDescriptor
    options: ConversionOptions
    inputs: dict[str, Any]
    resolution: list[ResolvedStack] | None
    rows_without_images: list[dict[str, Any]]
    notes: list[str]


@dataclass(frozen=True, slots=True)
class _Prepared:
    kept: np.ndarray
    skipped: list[SkippedRow]
    pixel_size: PixelSize
    permissive: frozenset[str]
    descriptor: ImageDescriptor
    output_pixel_size: float
    warnings: tuple[dict[str, str], ...] = ()
    stamps: dict[str, dict[str, int]] = field(default_factory=dict)
    duplicates: tuple[Duplicates, ...] = ()


@dataclass(frozen=True, slots=True)
class _Plan:
    """The stacks of a run and the rows ``n_stacks_max`` left out."""

    stacks: list[BatchPlan]
    left_out: np.ndarray


@dataclass(slots=True)
class _Output:
    """The output folder of a run: its manifest and the stacks a resume reuses."""

    layout: OutputLayout
    manifest: Manifest
    resumed: bool
    reused: dict[int, dict[str, Any]]
    derived: DerivedParams | None = None
    params_file: Path | None = None


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
    duplicates = tuple(find_duplicates(kept_rows))
    for found in duplicates:
        warnings.warn(found.text, ConversionWarning, stacklevel=4)
    return _Prepared(
        kept,
        skipped,
        pixel_size,
        permissive,
        descriptor,
        size_out,
        notes,
        stamp_files(used),
        duplicates,
    )


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

    The steps: check the inputs, plan the stacks, prepare the output folder,
    convert (each finished stack is recorded in the manifest as it completes),
    finish. Every problem with the inputs is found before the first file is written.
    The output folder is locked for the run (see :mod:`cryolike_convert.output.lock`).
    A run stopped by Ctrl-C or SIGTERM keeps its finished stacks, marks the manifest
    ``interrupted`` and raises :class:`~cryolike_convert.errors.ConversionInterrupted`;
    no thread or worker process of the run outlives it.
    A run that fails part-way removes the files it wrote (a resumed run keeps the
    stacks that were already finished). ``rows_without_images`` (``{"rows": ranges,
    "reason": ...}``) and ``notes`` (warnings) are reported in the manifest and the report.
    With a :class:`DerivedGrid` the grid comes from the data and is written to
    ``OUT/params.npz``.

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
    descriptor: ImageDescriptor | DerivedGrid,
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
    prepared = _check_inputs(metadata, descriptor, options, resolution)
    job = _Run(
        metadata,
        prepared.descriptor,
        options,
        inputs,
        resolution,
        list(rows_without_images or []),
        list(notes or []),
    )
    plan = _plan(job, prepared)
    derive = isinstance(descriptor, DerivedGrid)
    root = resolve_user_path(output_dir, "output folder", OutputError)
    lock = scope.enter_context(acquire_output_lock(root))
    output = _prepare_output(job, root, prepared, plan, derive, lock)
    try:
        timings = _convert(job, prepared, plan, output, progress)
    except BaseException as error:
        guard.calm()
        number = interruption(error, guard)
        if number is not None:
            keep_finished(output.manifest)
            raise ConversionInterrupted(
                number,
                n_stacks_kept=len(output.manifest.stacks),
                output_dir=output.layout.root,
            ) from error
        _discard_unrecorded(output)
        raise
    return _finish(job, prepared, plan, output, timings, started)


def _plan(job: _Run, prepared: _Prepared) -> _Plan:
    """Split the rows kept into stacks (and those ``n_stacks_max`` leaves out)."""
    options = job.options
    groups = job.metadata.group if options.flush_per_group else None
    stacks, left_out = plan_batches(
        prepared.kept, options.batch_size, options.n_stacks_max, groups
    )
    return _Plan(stacks, left_out)


def _prepare_output(
    job: _Run,
    output_dir: Path,
    prepared: _Prepared,
    plan: _Plan,
    derive: bool,
    lock: OutputLock,
) -> _Output:
    """Apply the re-run policy, write the first manifest; find the stacks to reuse.

    With ``derive``, the grid derived from the data is written to ``OUT/params.npz``.
    """
    layout = OutputLayout(output_dir)
    derived = None
    if job.options.overwrite:
        remove_previous_derived(layout)
    if derive:
        derived = DerivedParams(layout, prepared.descriptor)
        derived.check_writable()
        job = replace(job, inputs={**job.inputs, "params": derived.record()})
    previous = prepare_output(layout, job.options.overwrite, job.options.resume)
    header = {**_header(job, prepared), "lock": lock.describe()}
    rebuilt = previous is not None and REBUILD in previous
    if previous is not None and not rebuilt:
        check_resumable(layout, previous, header)
    params_file = derived.write() if derived is not None else None
    manifest = _new_manifest(job, layout, header, prepared, plan)
    if rebuilt:
        reused = _recover_stacks(job, layout, prepared, plan)
        manifest.warnings.append(
            f"{previous[REBUILD]}; rebuilt from {len(reused)} stack(s) on disk that "  # type: ignore[index]
            "match the inputs"
        )
    else:
        reused = {
            e["number"]: e
            for e in (previous or {}).get("stacks", [])
            if finished_stack(layout, e)
        }
    manifest.stacks.update(reused)
    manifest.write()
    return _Output(layout, manifest, previous is not None, reused, derived, params_file)


def _header(job: _Run, prepared: _Prepared) -> dict[str, Any]:
    """The manifest's record of what went in and how (compared on resume)."""
    source, metadata, options = prepared.pixel_size, job.metadata, job.options
    return manifest_header(
        n_rows=len(metadata),
        inputs=job.inputs,
        options=options.describe(),
        grid=job.descriptor.describe(),
        pixel_size={
            "source_angstrom": source.angstrom,
            "source": source.source,
            "output_angstrom": prepared.output_pixel_size,
        },
        resolution=job.resolution,
        image_sign=None if metadata.sign is None else np.unique(metadata.sign).tolist(),
        sign_applied=options.apply_sign,
        stack_stamps=prepared.stamps,
    )


def _new_manifest(
    job: _Run,
    layout: OutputLayout,
    header: dict[str, Any],
    prepared: _Prepared,
    plan: _Plan,
) -> Manifest:
    """The manifest before any stack: warnings and every row that will not convert."""
    metadata, left_out = job.metadata, plan.left_out
    messages = [
        f"{n['file']}: read permissively ({n['warning']})" for n in prepared.warnings
    ]
    messages += [found.text for found in prepared.duplicates]
    manifest = Manifest(layout, header, warnings=messages + job.notes)
    if prepared.duplicates:
        manifest.header["duplicates"] = [d.describe() for d in prepared.duplicates]
    manifest.without_images = job.rows_without_images
    manifest.skipped = [
        {"row": int(metadata.source_row[s.position]), "reason": s.reason}
        for s in prepared.skipped
    ]
    manifest.unconverted = {
        "reason": f"n_stacks_max={job.options.n_stacks_max} reached"
        if left_out.size
        else None,
        "n_rows": int(left_out.size),
        "rows": row_ranges(np.sort(metadata.source_row[left_out])),
    }
    return manifest


class _Tally:
    """Images and stacks done so far, for the progress callback."""

    def __init__(self, plan: _Plan, output: _Output) -> None:
        self.rows = {p.number: len(p.positions) for p in plan.stacks}
        reused_images = sum(self.rows.get(n, 0) for n in output.reused)
        self.progress = ConversionProgress(
            images_done=reused_images,
            images_total=sum(self.rows.values()),
            stacks_done=len(output.reused),
            stacks_total=len(plan.stacks),
            stacks_reused=len(output.reused),
            images_reused=reused_images,
        )
        self._written: dict[int, int] = {}

    def block(self, done: BlockDone) -> ConversionProgress:
        self._written[done.stack] = self._written.get(done.stack, 0) + done.n_rows
        self.progress = replace(
            self.progress,
            images_done=self.progress.images_done + done.n_rows,
            stack=None,
        )
        return self.progress

    def stack(self, record: StackRecord) -> ConversionProgress:
        rest = self.rows[record.number] - self._written.pop(record.number, 0)
        self.progress = replace(
            self.progress,
            images_done=self.progress.images_done + rest,
            stacks_done=self.progress.stacks_done + 1,
            stack=record,
        )
        return self.progress


def _convert(
    job: _Run,
    prepared: _Prepared,
    plan: _Plan,
    output: _Output,
    progress: ProgressCallback | None,
) -> dict[str, float]:
    """Convert the stacks not reused; record each in the manifest as it finishes."""
    tally = _Tally(plan, output)
    report = progress or (lambda _: None)
    report(tally.progress)
    timings = dict.fromkeys(STAGES, 0.0)
    todo = [p for p in plan.stacks if p.number not in output.reused]
    tasks = _tasks(
        todo, job.metadata, job.descriptor, output.layout, job.options, prepared
    )
    options = job.options
    workers = resolve_workers(options.workers)
    for event in execute(tasks, workers, options.executor, options.scheduler_address):
        if isinstance(event, BlockDone):
            report(tally.block(event))
            continue
        _record_stack(output, event)
        for stage, seconds in event.timings.items():
            timings[stage] = timings.get(stage, 0.0) + seconds
        report(tally.stack(event))
    return timings


def _record_stack(output: _Output, record: StackRecord) -> None:
    """A stack's files are complete and durable: list it in the manifest."""
    output.manifest.stacks[record.number] = record.to_entry()
    output.manifest.write()


def _discard_unrecorded(output: _Output) -> None:
    """After a failure: remove what the manifest does not list (all of a new run)."""
    remove_unrecorded(output.layout, output.manifest.to_dict())
    if not output.resumed:
        remove_run_files(output.layout)
        if output.derived is not None:
            output.derived.remove_if_created()


def _finish(
    job: _Run,
    prepared: _Prepared,
    plan: _Plan,
    output: _Output,
    timings: dict[str, float],
    started: float,
) -> ConversionReport:
    """Mark the manifest complete and build the report."""
    remove_temporaries(output.layout)  # left by Dask workers killed mid-write
    manifest = output.manifest
    manifest.status = "complete"
    manifest.write()
    document = manifest.to_dict()
    return ConversionReport(
        output_dir=output.layout.root,
        manifest_path=output.layout.manifest,
        n_rows=len(job.metadata),
        n_converted=document["totals"]["n_converted"],
        n_stacks=len(manifest.stacks),
        skipped=manifest.skipped
        + [s for e in document["stacks"] for s in e["skipped"]],
        n_unconverted=int(plan.left_out.size),
        n_without_image=document["totals"]["n_without_image"],
        warnings=manifest.warnings,
        pixel_size=prepared.pixel_size,
        elapsed_seconds=time.perf_counter() - started,
        timings=timings,
        stacks=document["stacks"],
        n_reused_stacks=len(output.reused),
        params_file=output.params_file,
        lock=dict(output.manifest.header.get("lock") or {}),
    )


def _recover_stacks(
    job: _Run, layout: OutputLayout, prepared: _Prepared, plan: _Plan
) -> dict[int, dict[str, Any]]:
    """Stacks on disk that hold what this run would write (damaged manifest)."""
    found: dict[int, dict[str, Any]] = {}
    for stack in plan.stacks:
        entry = recovered_entry(
            layout,
            stack.number,
            job.metadata.take(stack.positions).with_compact_files(),
            job.descriptor,
            prepared.pixel_size.from_metadata,
            stack.stack_range,
            job.options.make_plots,
        )
        if entry is not None:
            found[stack.number] = entry
    return found


def _tasks(
    plans: list[BatchPlan],
    metadata: ParticleMetadata,
    descriptor: ImageDescriptor,
    layout: OutputLayout,
    options: ConversionOptions,
    prepared: _Prepared,
) -> Iterator[BatchTask]:
    reference = prepared.pixel_size.from_metadata
    for plan in plans:
        yield BatchTask(
            plan,
            metadata.take(plan.positions).with_compact_files(),
            descriptor,
            layout.root,
            options,
            reference,
            prepared.permissive,
        )
