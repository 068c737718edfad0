"""The conversion subcommands: one per kind of input.

The options they share are in :mod:`cryolike_convert.cli.options`.

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
    StackFolder,
)
from cryolike_convert.errors import ConversionWarning
from cryolike_convert.execution.pipeline import ConversionReport, ProgressCallback

convert_app = typer.Typer(
    help="Convert particle stacks; one subcommand per kind of input.",
    no_args_is_help=True,
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

    if settings.overwrite and settings.resume:
        raise typer.BadParameter(
            "--overwrite and --resume exclude each other", param_hint="'--resume'"
        )
    with (
        warnings.catch_warnings(record=True) as caught,
        ProgressReporter(quiet=settings.quiet) as reporter,
    ):
        warnings.simplefilter("always", ConversionWarning)
        report = convert(reporter)
    shown: set[str] = set()
    for item in caught:
        if issubclass(item.category, ConversionWarning):
            shown.add(str(item.message))
            typer.echo(f"warning: {item.message}", err=True)
        else:
            warnings.warn_explicit(
                item.message, item.category, item.filename, item.lineno
            )
    for text in report.warnings:
        if text not in shown:
            typer.echo(f"warning: {text}", err=True)
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


@convert_app.command("cryosparc")
@conversion_command
def convert_cryosparc(
    particles: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, help="The .cs file to convert."),
    ],
    folder: StackFolder = None,
    project_dir: Annotated[
        Path | None,
        typer.Option(
            file_okay=False,
            help="CryoSPARC project (default: inferred from the .cs path).",
        ),
    ] = None,
    *,
    settings: ConvertSettings,
    progress: ProgressCallback,
) -> ConversionReport:
    """Convert the particles of an indexed CryoSPARC .cs file (blob/path, blob/idx)."""
    from cryolike_convert.compat import (
        convert_particle_stacks_from_indexed_cryosparc_file,
    )

    return convert_particle_stacks_from_indexed_cryosparc_file(
        file_cs=particles,
        folder_cryosparc=folder or "",
        project_dir=project_dir,
        progress=progress,
        **settings.api_arguments(),
    )


@convert_app.command("cryosparc-job")
@conversion_command
def convert_cryosparc_job(
    folder: Annotated[
        Path,
        typer.Argument(
            exists=True, file_okay=False, help="Folder holding J<n> (the project)."
        ),
    ],
    job: Annotated[int, typer.Option("--job", "-j", help="Job number n of J<n>.")],
    *,
    settings: ConvertSettings,
    progress: ProgressCallback,
) -> ConversionReport:
    """Convert a CryoSPARC job folder (J<n>/restack or J<n>/downsample)."""
    from cryolike_convert.compat import (
        convert_particle_stacks_from_cryosparc_job_directory,
    )

    return convert_particle_stacks_from_cryosparc_job_directory(
        folder_cryosparc=folder,
        job_number=job,
        progress=progress,
        **settings.api_arguments(),
    )


@convert_app.command("star")
@conversion_command
def convert_star(
    particles: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, help="The .star file to convert."),
    ],
    folder: StackFolder = None,
    project_dir: Annotated[
        Path | None,
        typer.Option(
            file_okay=False, help="RELION project folder (default: inferred)."
        ),
    ] = None,
    *,
    settings: ConvertSettings,
    progress: ProgressCallback,
) -> ConversionReport:
    """Convert the particles of an indexed RELION .star file (rlnImageName)."""
    from cryolike_convert.compat import convert_particle_stacks_from_indexed_star_file

    return convert_particle_stacks_from_indexed_star_file(
        star_file=particles,
        folder_mrc=folder or "",
        project_dir=project_dir,
        progress=progress,
        **settings.api_arguments(),
    )


@convert_app.command("star-pairs")
@conversion_command
def convert_star_pairs(
    mrc: Annotated[
        list[Path],
        typer.Option(exists=True, dir_okay=False, help="An MRC stack (repeat)."),
    ],
    star: Annotated[
        list[Path],
        typer.Option(exists=True, dir_okay=False, help="Its STAR file (repeat)."),
    ],
    angles_in_radians: Annotated[
        bool,
        typer.Option(
            "--angles-in-radians",
            help="DefocusAngle and PhaseShift are in radians (default: degrees).",
        ),
    ] = False,
    *,
    settings: ConvertSettings,
    progress: ProgressCallback,
) -> ConversionReport:
    """Convert MRC stacks each described row by row by its own STAR file."""
    from cryolike_convert.compat import (
        convert_particle_stacks_from_paired_star_and_mrc_files,
    )

    return convert_particle_stacks_from_paired_star_and_mrc_files(
        particle_file_list=mrc,
        star_file_list=star,
        defocus_angle_is_degree=not angles_in_radians,
        phase_shift_is_degree=not angles_in_radians,
        progress=progress,
        **settings.api_arguments(),
    )
