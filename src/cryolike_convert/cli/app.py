"""The ``cryolike-convert`` command line: a thin typer layer over the Python API.

Only the CLI modules (this one, :mod:`cryolike_convert.cli.convert` and
:mod:`cryolike_convert.cli.console`) print. Conversion errors become one message on stderr
and exit code 1; usage errors exit with 2.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from cryolike_convert.cli.console import reports_errors, set_debug
from cryolike_convert.cli.convert import convert_app
from cryolike_convert.version import __version__

app = typer.Typer(
    name="cryolike-convert",
    help="Convert CryoSPARC/RELION particle stacks into CryoLike polar-grid stacks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# One level: ``cryolike-convert cryosparc FILE.cs``, ``cryolike-convert star ...``.
app.registered_commands.extend(convert_app.registered_commands)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"cryolike-convert {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            envvar="CRYOLIKE_CONVERT_DEBUG",
            help="Show the full traceback of conversion errors.",
        ),
    ] = False,
) -> None:
    """Convert CryoSPARC/RELION particle stacks into CryoLike polar-grid stacks."""
    set_debug(debug)


class Precision(str, Enum):
    """Output precision of the Fourier stacks."""

    single = "single"
    double = "double"


@app.command("params")
@reports_errors
def params_command(
    n_pixels: Annotated[
        int, typer.Option("--n-pixels", min=1, help="Image side in pixels.")
    ],
    pixel_size: Annotated[
        float,
        typer.Option("--pixel-size", help="Å per pixel."),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The params .npz file to write.")
    ],
    precision: Annotated[
        Precision, typer.Option(help="Fourier stacks in complex64 or complex128.")
    ] = Precision.single,
    resolution_factor: Annotated[
        float,
        typer.Option(help="radius_max = f * n_pixels / 4."),
    ] = 1.0,
    n_inplanes: Annotated[
        int | None,
        typer.Option(min=1, help="Angles per shell (default: 2 * n_pixels)."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing file.")
    ] = False,
) -> None:
    """Write a params file (CryoLike's ImageDescriptor) for the output grid."""
    from cryolike_convert.image_descriptor import (
        ImageDescriptor,
        finest_resolution_angstrom,
    )

    descriptor = ImageDescriptor.from_individual_values(
        n_pixels=n_pixels,
        pixel_size=pixel_size,
        precision=precision.value,
        resolution_factor=resolution_factor,
        n_inplanes=n_inplanes,
    )
    path = descriptor.save(output, overwrite=overwrite)
    grid = descriptor.polar_grid
    typer.echo(
        f"wrote {path}: {n_pixels}x{n_pixels} px at {pixel_size:g} Å, "
        f"{grid.n_shells} shells x {grid.n_inplanes} angles, {precision.value} "
        f"precision, finest resolution {finest_resolution_angstrom(descriptor):.3g} Å"
    )


@app.command("inspect")
@reports_errors
def inspect_command(
    out: Annotated[
        Path, typer.Argument(exists=True, file_okay=False, help="Output folder.")
    ],
    plots: Annotated[
        Path | None,
        typer.Option(file_okay=False, help="Write overview PNGs into this folder."),
    ] = None,
) -> None:
    """Summarize an output folder: stacks, grid, lens ranges, skipped rows."""
    from cryolike_convert.cli.console import summary_lines
    from cryolike_convert.review.inspect import summarize_output, write_overview_plots

    typer.echo("\n".join(summary_lines(summarize_output(out))))
    if plots is not None:
        for path in write_overview_plots(out, plots).values():
            typer.echo(f"wrote plot:   {path}")


@app.command("verify")
@reports_errors
def verify_command(
    out: Annotated[
        Path, typer.Argument(exists=True, file_okay=False, help="Output folder.")
    ],
    params: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="Params file to compare with (default: the one in manifest.json).",
        ),
    ] = None,
) -> None:
    """Re-read every stack and check it; exit 1 if anything is wrong."""
    from cryolike_convert.cli.console import verification_lines
    from cryolike_convert.review.verify import verify_output

    report = verify_output(out, params)
    typer.echo("\n".join(verification_lines(report)))
    if not report.ok:
        raise typer.Exit(1)


@app.command("example")
@reports_errors
def example_command(
    out: Annotated[
        Path, typer.Argument(help="Folder for the example project and its output.")
    ] = Path("example_output"),
) -> None:
    """Generate a small CryoSPARC-like project and convert it."""
    from cryolike_convert.example import main as run_example

    code = run_example([str(out)])
    if code:
        raise typer.Exit(code)
