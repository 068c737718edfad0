"""The conversion subcommands: ``convert`` for any input, and one per kind of input.

The options they share are in :mod:`cryolike_convert.cli.options`. ``convert``
recognises its input (:func:`cryolike_convert.readers.detect.detect_input`) and
runs the matching mode; the per-kind commands stay for scripts that name the mode.

A new input kind is one function decorated with ``@convert_app.command(NAME)`` and
:func:`conversion_command`: it declares only its own arguments, takes ``settings``
and ``progress`` keywords and returns the :class:`ConversionReport`.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from cryolike_convert.cli.console import reports_errors
from cryolike_convert.cli.options import (
    SHARED_NAMES,
    SHARED_OPTIONS,
    ConvertSettings,
    JobOption,
    PlainCommand,
    ProjectDir,
    StackFolder,
)
from cryolike_convert.errors import ConversionWarning, render
from cryolike_convert.execution.pipeline import ConversionReport, ProgressCallback

convert_app = typer.Typer(
    help="Convert particle stacks; one subcommand per kind of input.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


Converter = Callable[..., ConversionReport]


def conversion_command(command: Converter) -> Callable[..., None]:
    """Make a ``convert`` subcommand from a function of its own arguments.

    ``command`` declares only what is specific to its input kind, plus keyword
    arguments ``settings`` (:class:`ConvertSettings`) and ``progress``; it returns
    the :class:`ConversionReport`. The shared options are added to its signature,
    and progress display, warnings, the summary line and errors are handled here.

    Parameters
    ----------
    command
        ``command(<own arguments>, *, settings, progress) -> ConversionReport``.

    Returns
    -------
    Callable
        The typer command: its own arguments followed by :data:`SHARED_OPTIONS`.
    """
    own = inspect.signature(command, eval_str=True)
    specific = [
        p for name, p in own.parameters.items() if name not in ("settings", "progress")
    ]
    shared = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=d, annotation=a)
        for name, a, d in SHARED_OPTIONS
    ]

    def wrapper(**arguments: Any) -> None:
        settings = ConvertSettings(
            **{name: arguments.pop(name) for name in SHARED_NAMES}
        )
        _run_conversion(
            settings,
            lambda progress: command(settings=settings, progress=progress, **arguments),
        )

    wrapper.__name__ = command.__name__
    wrapper.__qualname__ = command.__qualname__
    wrapper.__doc__ = command.__doc__
    wrapper.__signature__ = own.replace(  # type: ignore[attr-defined]
        parameters=[*specific, *shared], return_annotation=None
    )
    return reports_errors(wrapper)


def _run_conversion(
    settings: ConvertSettings, convert: Callable[[ProgressCallback], ConversionReport]
) -> None:
    from cryolike_convert.cli.console import (
        ProgressReporter,
        conversion_summary,
        skipped_lines,
    )

    settings.check()
    with (
        warnings.catch_warnings(record=True) as caught,
        ProgressReporter(quiet=settings.quiet) as reporter,
    ):
        warnings.simplefilter("always", ConversionWarning)
        report = convert(reporter)
    shown: set[str] = set()
    for item in caught:
        if isinstance(item.message, ConversionWarning):
            shown.add(str(item.message))
            typer.echo(f"warning: {item.message.for_cli()}", err=True)
        else:
            warnings.warn_explicit(
                item.message, item.category, item.filename, item.lineno
            )
    for text in report.warnings:
        if text not in shown:
            typer.echo(f"warning: {render(text, 'cli')}", err=True)
    if report.skipped and not settings.quiet:
        typer.echo(f"skipped {len(report.skipped)} row(s):", err=True)
        typer.echo("\n".join(skipped_lines(report.skipped)), err=True)
    typer.echo(conversion_summary(report))
    if settings.plots and any(int(entry["n_images"]) for entry in report.stacks):
        from cryolike_convert.review.inspect import write_overview_plots

        folder = report.output_dir / "plots"
        names = ", ".join(
            p.name for p in write_overview_plots(report.output_dir, folder).values()
        )
        typer.echo(f"overview plots in {folder}: {names}")


def _not_for(what: str, **given: object) -> None:
    """Refuse options that the detected kind of input does not take."""
    for flag, value in given.items():
        if value is not None:
            name = "--" + flag.replace("_", "-")
            raise typer.BadParameter(
                f"{name} does not apply to {what}", param_hint=name
            )


@convert_app.command("convert", cls=PlainCommand)
@conversion_command
def convert_any(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="PATH...",
            help="A .cs or .csg file, several .cs files (the main file, then its "
            "passthrough files), a .star file, or a CryoSPARC job folder J<n> "
            "(or its project folder with --job).",
        ),
    ],
    job: JobOption = None,
    folder: StackFolder = None,
    project_dir: ProjectDir = None,
    *,
    settings: ConvertSettings,
    progress: ProgressCallback,
) -> ConversionReport:
    """Convert any input: the kind (.cs, .csg, .star, job folder) is recognised."""
    from cryolike_convert.readers.detect import detect_input

    detected = detect_input(paths, job)
    if detected.kind == "cryosparc_job":
        _not_for("a job folder", folder=folder, project_dir=project_dir)
        return _convert_job(
            detected.project_dir, detected.job_number, settings, progress
        )
    if detected.kind == "star":
        return _convert_star(detected.paths[0], folder, project_dir, settings, progress)
    return _convert_cs(list(detected.paths), folder, project_dir, settings, progress)


def _convert_cs(
    files: list[Path],
    folder: Path | None,
    project_dir: Path | None,
    settings: ConvertSettings,
    progress: ProgressCallback,
) -> ConversionReport:
    from cryolike_convert.readers.cryosparc.indexed import read_indexed_cryosparc

    source = files[0] if len(files) == 1 else files
    return settings.convert(
        lambda: read_indexed_cryosparc(source, project_dir=project_dir),
        progress,
        folder=folder,
    )


def _convert_job(
    project: Path | None,
    number: int | None,
    settings: ConvertSettings,
    progress: ProgressCallback,
) -> ConversionReport:
    from cryolike_convert.readers.cryosparc.job import read_cryosparc_job

    return settings.convert(
        lambda: read_cryosparc_job(project or ".", number or 0), progress
    )


def _convert_star(
    file: Path,
    folder: Path | None,
    project_dir: Path | None,
    settings: ConvertSettings,
    progress: ProgressCallback,
) -> ConversionReport:
    from cryolike_convert.readers.relion.indexed import read_indexed_star

    return settings.convert(
        lambda: read_indexed_star(file, project_dir=project_dir),
        progress,
        folder=folder,
    )


@convert_app.command("cryosparc", cls=PlainCommand)
@conversion_command
def convert_cryosparc(
    particles: Annotated[
        list[Path],
        typer.Argument(
            exists=True,
            metavar="FILE.cs...",
            help="The .cs file to convert (or a .csg group, or the main .cs file "
            "followed by its passthrough files, joined on uid).",
        ),
    ],
    folder: StackFolder = None,
    project_dir: ProjectDir = None,
    *,
    settings: ConvertSettings,
    progress: ProgressCallback,
) -> ConversionReport:
    """Convert the particles of an indexed CryoSPARC .cs file (blob/path, blob/idx)."""
    return _convert_cs(particles, folder, project_dir, settings, progress)


@convert_app.command("cryosparc-job", cls=PlainCommand)
@conversion_command
def convert_cryosparc_job(
    folder: Annotated[
        Path,
        typer.Argument(
            exists=True,
            file_okay=False,
            metavar="DIR",
            help="The job folder J<n>, or the project folder holding it (with --job).",
        ),
    ],
    job: JobOption = None,
    *,
    settings: ConvertSettings,
    progress: ProgressCallback,
) -> ConversionReport:
    """Convert a CryoSPARC job folder (J<n>/restack or J<n>/downsample)."""
    from cryolike_convert.readers.detect import detect_input

    detected = detect_input([folder], job)
    return _convert_job(detected.project_dir, detected.job_number, settings, progress)


@convert_app.command("star", cls=PlainCommand)
@conversion_command
def convert_star(
    particles: Annotated[
        Path,
        typer.Argument(
            exists=True, metavar="FILE.star", help="The .star file to convert."
        ),
    ],
    folder: StackFolder = None,
    project_dir: ProjectDir = None,
    *,
    settings: ConvertSettings,
    progress: ProgressCallback,
) -> ConversionReport:
    """Convert the particles of an indexed RELION .star file (rlnImageName)."""
    return _convert_star(particles, folder, project_dir, settings, progress)


@convert_app.command("star-pairs", cls=PlainCommand)
@conversion_command
def convert_star_pairs(
    mrc: Annotated[
        list[Path],
        typer.Option(
            exists=True,
            dir_okay=False,
            metavar="FILE",
            help="An MRC stack (repeat, in the order of --star).",
        ),
    ],
    star: Annotated[
        list[Path],
        typer.Option(
            exists=True,
            dir_okay=False,
            metavar="FILE",
            help="The STAR file of the MRC stack at the same place (repeat).",
        ),
    ],
    angles_in_radians: Annotated[
        bool,
        typer.Option(
            "--angles-in-radians",
            metavar="",
            help="DefocusAngle and PhaseShift are in radians (default: degrees).",
        ),
    ] = False,
    *,
    settings: ConvertSettings,
    progress: ProgressCallback,
) -> ConversionReport:
    """Convert MRC stacks each described row by row by its own STAR file."""
    from cryolike_convert.readers.relion.paired import read_paired_star

    return settings.convert(
        lambda: read_paired_star(
            mrc,
            star,
            defocus_angle_is_degree=not angles_in_radians,
            phase_shift_is_degree=not angles_in_radians,
        ),
        progress,
        flush_per_group=True,
    )
