"""The ``cryolike-convert`` command line: a thin typer layer over the Python API.

Only the CLI modules (this one, :mod:`cryolike_convert.cli.convert` and
:mod:`cryolike_convert.cli.console`) print. Conversion errors become one message on stderr
and exit code 1; usage errors exit with 2.

``cryolike-convert PATH ...`` is short for ``cryolike-convert convert PATH ...``: a
first argument that is not a subcommand is an input. A path spelled like a
subcommand (a folder named ``star``, say) is refused as ambiguous rather than
guessed; ``./star`` or the ``convert`` subcommand says what is meant.
"""

from __future__ import annotations

from difflib import get_close_matches
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from cryolike_convert.cli.console import reports_errors, set_debug
from cryolike_convert.cli.convert import convert_app
from cryolike_convert.cli.options import PlainCommand, Precision
from cryolike_convert.version import __version__

#: The subcommand a bare ``cryolike-convert PATH`` runs.
DEFAULT_COMMAND = "convert"


class _InputOrCommand(TyperGroup):
    """A group whose first argument is a subcommand or, failing that, an input path."""

    def resolve_command(
        self, ctx: Any, args: list[str]
    ) -> tuple[str | None, Any, list[str]]:
        """Resolve ``args[0]`` as a subcommand, else run ``convert`` with ``args``."""
        first = args[0]
        if first in self.commands:
            if first != DEFAULT_COMMAND and _looks_like_input(first):
                raise typer.BadParameter(
                    f"'{first}' is both a subcommand and an input here; write "
                    f"./{first} to convert the input, or cryolike-convert "
                    f"{DEFAULT_COMMAND} {first}",
                    ctx,
                )
            return super().resolve_command(ctx, args)
        if first.startswith("-") or (
            not Path(first).exists() and get_close_matches(first, list(self.commands))
        ):
            return super().resolve_command(ctx, args)  # usage error with a suggestion
        command = self.commands[DEFAULT_COMMAND]
        return DEFAULT_COMMAND, command, args


def _looks_like_input(name: str) -> bool:
    from cryolike_convert.readers.detect import job_folder_number, sniff_file

    path = Path(name)
    if path.is_dir():
        try:
            children = [child for child in path.iterdir() if child.is_dir()]
        except OSError:
            return False
        return job_folder_number(path) is not None or any(
            job_folder_number(child) is not None for child in children
        )
    return path.is_file() and sniff_file(path) in ("cs", "csg", "star")


app = typer.Typer(
    name="cryolike-convert",
    cls=_InputOrCommand,
    help="Convert CryoSPARC/RELION particle stacks into CryoLike polar-grid stacks. "
    "'cryolike-convert PATH ...' converts any input (.cs, .csg, .star, a job folder); "
    "it is short for 'cryolike-convert convert PATH ...'.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    subcommand_metavar="PATH... | COMMAND [ARGS]...",
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
            metavar="",
            help="Print the version and exit.",
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            envvar="CRYOLIKE_CONVERT_DEBUG",
            metavar="",
            help="Show the full traceback of conversion errors.",
        ),
    ] = False,
) -> None:
    """Convert CryoSPARC/RELION particle stacks into CryoLike polar-grid stacks."""
    set_debug(debug)


@app.command("params", cls=PlainCommand)
@reports_errors
def params_command(
    n_pixels: Annotated[
        int,
        typer.Option("--n-pixels", min=1, metavar="N", help="Image side in pixels."),
    ],
    pixel_size: Annotated[
        float,
        typer.Option("--pixel-size", metavar="Å", help="Å per pixel."),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", metavar="FILE", help="The params .npz file to write."
        ),
    ],
    precision: Annotated[
        Precision,
        typer.Option(
            metavar="single|double", help="Fourier stacks in complex64 or complex128."
        ),
    ] = Precision.single,
    resolution_factor: Annotated[
        float,
        typer.Option(metavar="F", help="radius_max = F * n_pixels / 4."),
    ] = 1.0,
    n_inplanes: Annotated[
        int | None,
        typer.Option(
            min=1, metavar="N", help="Angles per shell (default: 2 * n_pixels)."
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", metavar="", help="Replace an existing file.")
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


@app.command("inspect", cls=PlainCommand)
@reports_errors
def inspect_command(
    out: Annotated[
        Path,
        typer.Argument(
            exists=True, file_okay=False, metavar="OUT", help="Output folder."
        ),
    ],
    plots: Annotated[
        Path | None,
        typer.Option(
            file_okay=False,
            metavar="DIR",
            help="Write overview PNGs into this folder.",
        ),
    ] = None,
) -> None:
    """Summarize an output folder: stacks, grid, lens ranges, skipped rows."""
    from cryolike_convert.cli.console import summary_lines
    from cryolike_convert.review.inspect import summarize_output, write_overview_plots

    typer.echo("\n".join(summary_lines(summarize_output(out))))
    if plots is not None:
        for path in write_overview_plots(out, plots).values():
            typer.echo(f"wrote plot:   {path}")


@app.command("verify", cls=PlainCommand)
@reports_errors
def verify_command(
    out: Annotated[
        Path,
        typer.Argument(
            exists=True, file_okay=False, metavar="OUT", help="Output folder."
        ),
    ],
    params: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            metavar="FILE",
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


@app.command("example", cls=PlainCommand)
@reports_errors
def example_command(
    out: Annotated[
        Path,
        typer.Argument(
            metavar="DIR", help="Folder for the example project and its output."
        ),
    ] = Path("example_output"),
) -> None:
    """Generate a small CryoSPARC-like project and convert it."""
    from cryolike_convert.example import main as run_example

    code = run_example([str(out)])
    if code:
        raise typer.Exit(code)
