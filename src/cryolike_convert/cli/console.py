"""Terminal presentation for the CLI: progress display and report text (no logic)."""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import typer

from cryolike_convert.errors import ConversionError, ConversionInterrupted
from cryolike_convert.transform.precision import PRECISIONS, complex_dtype

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from cryolike_convert.execution.pipeline import ConversionProgress, ConversionReport
    from cryolike_convert.review.inspect import OutputSummary
    from cryolike_convert.review.verify import VerificationReport

F = TypeVar("F", bound=Callable[..., Any])

#: Seconds between plain progress lines when stderr is not a terminal.
PLAIN_INTERVAL_SECONDS = 5.0
#: Skipped rows listed in full before the rest is counted.
MAX_LISTED = 10


def _format_seconds(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{rest:02d}" if hours else f"{minutes}:{rest:02d}"


class ProgressReporter:
    """The ``progress`` callback of a conversion, drawn on stderr.

    A rich bar (images/s, ETA) when stderr is a terminal; otherwise a plain line
    at most every :data:`PLAIN_INTERVAL_SECONDS` and at the end; nothing when
    ``quiet``.

    Parameters
    ----------
    quiet
        Draw nothing.
    stream
        Where to draw (default: ``sys.stderr`` at the time of the call).
    """

    def __init__(self, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.quiet = quiet
        self.stream = stream if stream is not None else sys.stderr
        self.started = time.perf_counter()
        self._last_line = self.started
        self._converting_since: float | None = None
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> ProgressReporter:
        """Start the bar (terminal only)."""
        if not self.quiet and self.stream.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("images"),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("checking", total=None, rate="")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        """Stop the bar."""
        if self._progress is not None:
            self._progress.stop()

    def __call__(self, status: ConversionProgress) -> None:
        """Show ``status``: images done of the total, and stacks reused by a resume."""
        now = time.perf_counter()
        if self._converting_since is None:
            self._converting_since = now  # checks are done: the rate counts from here
        new_images = status.images_done - status.images_reused
        rate = new_images / max(now - self._converting_since, 1e-9)
        done, total = status.images_done, status.images_total
        reused = (
            f" ({status.stacks_reused} stacks reused)" if status.stacks_reused else ""
        )
        if self._progress is not None and self._task is not None:
            self._progress.update(
                self._task,
                description=f"converting{reused}",
                completed=done,
                total=total,
                rate=f"{rate:.0f} images/s",
            )
        elif not self.quiet and (
            status.stacks_done >= status.stacks_total
            or now - self._last_line >= PLAIN_INTERVAL_SECONDS
        ):
            self._last_line = now
            eta = (total - done) / rate if rate > 0 else 0.0
            self.stream.write(
                f"{done}/{total} images, {status.stacks_done}/{status.stacks_total} "
                f"stacks{reused} ({rate:.0f} images/s, ETA {_format_seconds(eta)})\n"
            )
            self.stream.flush()


def conversion_summary(report: ConversionReport) -> str:
    """The final one-line summary of a conversion."""
    text = (
        f"converted {report.n_converted} images into {report.n_stacks} stacks; "
        f"{len(report.skipped)} rows skipped"
    )
    if report.n_unconverted:
        text += f", {report.n_unconverted} rows not converted (n_stacks_max)"
    if report.n_without_image:
        text += f", {report.n_without_image} rows without an image"
    if report.warnings:
        text += f", {len(report.warnings)} warning(s)"
    if report.n_reused_stacks:
        text += f"; {report.n_reused_stacks} stacks reused from the previous run"
    text += f"; {_format_seconds(report.elapsed_seconds)} → {report.output_dir}"
    return "\n".join([text, *_selection_lines(report), *_derived_grid_lines(report)])


def _selection_lines(report: ConversionReport) -> list[str]:
    import json

    try:
        inputs = json.loads(report.manifest_path.read_text()).get("inputs", {})
    except (OSError, ValueError):
        return []
    selection = inputs.get("selection")
    if not selection:
        return []
    flag = "--ind" if selection["kind"] == "ind" else "--uids"
    left = selection["n_rows"] - selection["n_selected"]
    return [
        f"selected {selection['n_selected']} of {selection['n_rows']} rows with {flag}; "
        f"the {left} rows left out are listed in manifest.json"
    ]


def _derived_grid_lines(report: ConversionReport) -> list[str]:
    if report.params_file is None:
        return []
    from cryolike_convert.image_descriptor import ImageDescriptor

    descriptor = ImageDescriptor.load(report.params_file)
    grid = descriptor.polar_grid
    return [
        f"grid derived from the data: {descriptor.n_pixels[0]} px at "
        f"{descriptor.pixel_size_angstrom[0]:.6g} Å, {grid.n_shells} shells x "
        f"{grid.n_inplanes} angles, {descriptor.precision} precision; params file "
        f"{report.params_file} (pass it as --params for templates on the same grid)"
    ]


def skipped_lines(skipped: list[dict[str, Any]]) -> list[str]:
    """One line per skipped row (the first :data:`MAX_LISTED`, then a count)."""
    lines = [f"  row {item['row']}: {item['reason']}" for item in skipped[:MAX_LISTED]]
    if len(skipped) > MAX_LISTED:
        lines.append(f"  ... and {len(skipped) - MAX_LISTED} more (see manifest.json)")
    return lines


def _range_text(values: tuple[float, float] | None, unit: str, digits: int) -> str:
    if values is None:
        return "n/a"
    low, high = values
    return f"{low:,.{digits}f} to {high:,.{digits}f} {unit}"


def summary_lines(summary: OutputSummary) -> list[str]:
    """The text of ``cryolike-convert inspect``."""
    grid, pixel = summary.grid, summary.pixel_size
    n_x, n_y = grid.get("n_pixels", ["?", "?"])
    precision = grid.get("precision", "?")
    dtype = complex_dtype(precision).name if precision in PRECISIONS else "?"
    unconverted = summary.unconverted or {}
    lines = [
        f"output:       {summary.root} (run {summary.status})",
        f"stacks:       {summary.n_stacks}",
        f"images:       {summary.n_images} of {summary.n_rows} rows "
        f"({len(summary.skipped)} skipped, {unconverted.get('n_rows', 0)} not "
        "converted)",
        f"grid:         {n_x}x{n_y} px -> {grid.get('n_shells')} shells x "
        f"{grid.get('n_inplanes')} angles (radius_max {grid.get('radius_max')})",
        f"precision:    {precision} ({dtype} Fourier stacks)",
        f"pixel size:   {pixel.get('output_angstrom', float('nan')):.4g} Å output "
        f"(source {pixel.get('source_angstrom', float('nan')):.4g} Å from "
        f"{pixel.get('source', '?')})",
        f"defocus U:    {_range_text(summary.defocus_u_angstrom, 'Å', 0)}",
        f"defocus V:    {_range_text(summary.defocus_v_angstrom, 'Å', 0)}",
        f"phase shift:  {_range_text(summary.phase_shift_rad, 'rad', 3)}",
    ]
    if summary.skipped:
        lines.append(f"skipped rows: {len(summary.skipped)}")
        lines += skipped_lines(summary.skipped)
    else:
        lines.append("skipped rows: none")
    if unconverted.get("n_rows"):
        lines.append(
            f"unconverted:  {unconverted['n_rows']} rows ({unconverted.get('reason')})"
        )
    for item in summary.without_images:
        n_without = sum(stop - start for start, stop in item["rows"])
        lines.append(f"no image:     {n_without} rows ({item['reason']})")
    lines += [f"warning:      {text}" for text in summary.warnings]
    return lines


def verification_lines(report: VerificationReport) -> list[str]:
    """The text of ``cryolike-convert verify``."""
    checked = (
        f"{report.n_stacks} stacks, {report.n_images} images checked against "
        f"{report.params_path or 'no params file'}"
    )
    if report.ok:
        return [f"OK: {checked}"]
    return [str(problem) for problem in report.problems] + [
        f"FAILED: {len(report.problems)} problem(s); {checked}"
    ]


@dataclass(slots=True)
class _State:
    """Settings of the running command line."""

    debug: bool = False


_STATE = _State()


def _echo_error(error: ConversionError) -> None:
    typer.echo(f"error: {error.for_cli()}", err=True)


def reports_errors(command: F) -> F:
    """Turn a :class:`ConversionError` into one line on stderr and exit code 1.

    With ``cryolike --debug`` the traceback is shown instead. Other exceptions
    (bugs) keep their traceback. A run stopped by Ctrl-C or SIGTERM
    (:class:`ConversionInterrupted`) says how many stacks it kept and exits with
    the shell's code for that signal (130, 143).

    Parameters
    ----------
    command
        A typer command function.

    Returns
    -------
    Callable
        The same command, wrapped (its signature is kept for typer).
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ConversionError as err:
            if _STATE.debug:
                raise
            _echo_error(err)
            raise typer.Exit(1) from None
        except ConversionInterrupted as err:
            typer.echo(str(err), err=True)
            raise typer.Exit(err.exit_code) from None

    return wrapper  # type: ignore[return-value]


def set_debug(enabled: bool) -> None:
    """Show tracebacks of conversion errors (``cryolike --debug``)."""
    _STATE.debug = enabled
