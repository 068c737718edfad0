"""The options every ``cryolike-convert`` conversion shares, and their settings object.

Every option has an explicit metavar (``N``, ``FILE``, ``DIR``, …; none for flags),
so that help shows what to type rather than Python types.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperArgument, TyperCommand

if TYPE_CHECKING:
    from cryolike_convert.execution.pipeline import ConversionProgress

    ProgressCallback = Callable[[ConversionProgress], None]

#: ``--folder``: where the MRC stacks are, looked up by basename (indexed inputs).
from cryolike_convert.execution.checks import FACTOR_HINT_ABOVE
from cryolike_convert.image_descriptor import DerivedGrid


class _PlainArgument(TyperArgument):
    """An argument shown by its metavar alone: no ``<list[Path]>``, no ``{name}``."""

    def display_type(self, ctx: Any) -> str:
        """No type label when the argument has a metavar."""
        return "" if self.metavar else super().display_type(ctx)

    def _usage_display_name(self) -> str:
        if not self.metavar:
            return super()._usage_display_name()
        return self.metavar if self.required else f"[{self.metavar}]"


class PlainCommand(TyperCommand):
    """A command whose arguments show their metavar as it is (pass as ``cls=``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if type(param) is TyperArgument:
                param.__class__ = _PlainArgument


#: ``--folder`` (alias ``--datadir``, as in cryoDRGN): where the MRC stacks are,
#: looked up by basename (indexed inputs).
StackFolder = Annotated[
    Path | None,
    typer.Option(
        "--folder",
        "--datadir",
        file_okay=False,
        metavar="DIR",
        help="Folder of the MRC stacks, looked up by file name (alias --datadir).",
    ),
]
#: ``--project-dir``: the project folder relative stored paths start from.
ProjectDir = Annotated[
    Path | None,
    typer.Option(
        file_okay=False,
        metavar="DIR",
        help="Project folder that relative image paths start from "
        "(default: inferred from the metadata file's location).",
    ),
]
#: ``--job``: a CryoSPARC job, ``J4`` or ``4``.
JobOption = Annotated[
    str | None,
    typer.Option(
        "--job",
        "-j",
        metavar="J<n>",
        help="The job folder J<n> inside the given project folder (J4 or 4).",
    ),
]


class Executor(str, Enum):
    """Where ``convert`` runs the stacks (``--executor``)."""

    local = "local"
    dask = "dask"


class DownsampleType(str, Enum):
    """How ``--downsample`` pools f x f pixel blocks."""

    mean = "mean"
    max = "max"


class Precision(str, Enum):
    """Output precision of the Fourier stacks."""

    single = "single"
    double = "double"


@dataclass(frozen=True, slots=True, kw_only=True)
class ConvertSettings:
    """The options every conversion command shares (see :data:`SHARED_OPTIONS`)."""

    params: Path | None
    precision: Precision | None
    out: Path
    batch_size: int
    n_stacks_max: int
    pixel_size: float | None
    downsample: int
    downsample_type: DownsampleType
    box: int | None
    apply_sign: bool
    ind: Path | None
    uids: Path | None
    plots: bool
    plots_per_stack: bool
    overwrite: bool
    resume: bool
    skip_missing: bool
    skip_invalid: bool
    workers: int | None
    executor: Executor
    scheduler: str | None
    quiet: bool

    def check(self) -> None:
        """Usage errors that need more than one option (exit code 2).

        Raises
        ------
        typer.BadParameter
            For exclusive options or a pooling factor that looks like a box.
        """
        if self.overwrite and self.resume:
            raise typer.BadParameter(
                "--overwrite and --resume exclude each other", param_hint="'--resume'"
            )
        if self.params is not None and self.precision is not None:
            raise typer.BadParameter(
                "--precision sets the precision of a derived grid; with --params the "
                "params file sets it",
                param_hint="'--precision'",
            )
        if self.box is not None and self.downsample != 1:
            raise typer.BadParameter(
                "--downsample (pooling) and --box (Fourier cropping) exclude each other",
                param_hint="'--box'",
            )
        if self.downsample > FACTOR_HINT_ABOVE:
            raise typer.BadParameter(
                f"--downsample {self.downsample} would pool {self.downsample}x"
                f"{self.downsample}-pixel blocks; to downsample to a box of "
                f"{self.downsample} px use --box {self.downsample} (Fourier cropping)",
                param_hint="'--downsample'",
            )
        if self.ind is not None and self.uids is not None:
            raise typer.BadParameter(
                "--ind and --uids exclude each other", param_hint="'--uids'"
            )

    def api_arguments(self) -> dict[str, Any]:
        """The keyword arguments these options become in the compat wrappers."""
        derived = DerivedGrid(
            precision="double" if self.precision is Precision.double else "single"
        )
        return {
            "params_input": self.params if self.params is not None else derived,
            "folder_output": self.out,
            "batch_size": self.batch_size,
            "n_stacks_max": self.n_stacks_max,
            "pixel_size": self.pixel_size,
            "downsample_factor": self.downsample,
            "downsample_type": self.downsample_type.value,
            "downsample_box": self.box,
            "apply_sign": self.apply_sign,
            "ind": self.ind,
            "uids": self.uids,
            "skip_exist": self.resume,
            "flag_plots": self.plots_per_stack,
            "overwrite": self.overwrite,
            "on_missing": "skip" if self.skip_missing else "error",
            "on_invalid": "skip" if self.skip_invalid else "error",
            "workers": self.workers,
            "executor": self.executor.value,
            "scheduler_address": self.scheduler,
        }


def _flag(*declarations: str, help: str) -> Any:
    """A boolean flag without a metavar."""
    return typer.Option(*declarations, metavar="", help=help)


_EMPTY = inspect.Parameter.empty
#: ``(name, annotation, default)`` of the options shared by conversion commands.
SHARED_OPTIONS: tuple[tuple[str, Any, Any], ...] = (
    (
        "params",
        Annotated[
            Path | None,
            typer.Option(
                exists=True,
                dir_okay=False,
                metavar="FILE",
                help="Params file of the output grid (cryolike-convert params). "
                "Default: derived from the data and written to OUT/params.npz.",
            ),
        ],
        None,
    ),
    (
        "precision",
        Annotated[
            Precision | None,
            typer.Option(
                metavar="single|double",
                help="Precision of a derived grid (complex64 or complex128 stacks; "
                "default single).",
            ),
        ],
        None,
    ),
    (
        "out",
        Annotated[
            Path, typer.Option("--out", "-o", metavar="DIR", help="Output folder.")
        ],
        _EMPTY,
    ),
    (
        "batch_size",
        Annotated[int, typer.Option(min=1, metavar="N", help="Images per stack.")],
        1024,
    ),
    (
        "n_stacks_max",
        Annotated[
            int,
            typer.Option(metavar="N", help="Stop after this many stacks (-1: all)."),
        ],
        -1,
    ),
    (
        "pixel_size",
        Annotated[
            float | None,
            typer.Option(
                metavar="Å",
                help="Å per stored pixel (default: from metadata or MRC header).",
            ),
        ],
        None,
    ),
    (
        "downsample",
        Annotated[
            int,
            typer.Option(
                min=1,
                metavar="F",
                help=f"Pool FxF pixel blocks (F ≤ {FACTOR_HINT_ABOVE}; see --box).",
            ),
        ],
        1,
    ),
    (
        "downsample_type",
        Annotated[
            DownsampleType,
            typer.Option(metavar="mean|max", help="Pooling of FxF blocks."),
        ],
        DownsampleType.mean,
    ),
    (
        "box",
        Annotated[
            int | None,
            typer.Option(
                min=2,
                metavar="N",
                help="Downsample to an NxN box by Fourier cropping "
                "(as RELION, CryoSPARC and cryoDRGN do).",
            ),
        ],
        None,
    ),
    (
        "apply_sign",
        Annotated[
            bool,
            _flag(
                "--apply-sign", help="Multiply images by blob/sign (default: ignore)."
            ),
        ],
        False,
    ),
    (
        "ind",
        Annotated[
            Path | None,
            typer.Option(
                exists=True,
                dir_okay=False,
                metavar="FILE",
                help="Convert only these rows: 0-based row numbers in a .npy or "
                "text file.",
            ),
        ],
        None,
    ),
    (
        "uids",
        Annotated[
            Path | None,
            typer.Option(
                exists=True,
                dir_okay=False,
                metavar="FILE",
                help="Convert only the particles with these uids (.npy or text).",
            ),
        ],
        None,
    ),
    (
        "plots",
        Annotated[
            bool,
            typer.Option(
                "--plots/--no-plots",
                metavar="",
                help="Overview PNGs of the run in OUT/plots (montages, power "
                "spectrum, CTF).",
            ),
        ],
        True,
    ),
    (
        "plots_per_stack",
        Annotated[
            bool,
            _flag(
                "--plots-per-stack",
                help="Also CryoLike's 3 PNGs per stack (Python: flag_plots=True).",
            ),
        ],
        False,
    ),
    (
        "overwrite",
        Annotated[bool, _flag("--overwrite", help="Replace a previous run in OUT.")],
        False,
    ),
    (
        "resume",
        Annotated[bool, _flag("--resume", help="Continue a previous run in OUT.")],
        False,
    ),
    (
        "skip_missing",
        Annotated[
            bool, _flag("--skip-missing", help="Skip rows whose stack is missing.")
        ],
        False,
    ),
    (
        "skip_invalid",
        Annotated[
            bool, _flag("--skip-invalid", help="Skip flat or non-finite images.")
        ],
        False,
    ),
    (
        "workers",
        Annotated[
            int | None,
            typer.Option(
                min=1,
                metavar="N",
                help="Threads (with --executor dask: processes); default: one per core.",
            ),
        ],
        None,
    ),
    (
        "executor",
        Annotated[
            Executor,
            typer.Option(
                metavar="local|dask",
                help="local: threads of this process; dask: one task per stack on "
                "a Dask cluster (pip install 'cryolike-convert[dask]').",
            ),
        ],
        Executor.local,
    ),
    (
        "scheduler",
        Annotated[
            str | None,
            typer.Option(
                metavar="ADDRESS",
                help="Dask scheduler address (tcp://host:8786) for --executor dask; "
                "default: a local cluster of --workers processes.",
            ),
        ],
        None,
    ),
    (
        "quiet",
        Annotated[bool, _flag("--quiet", "-q", help="No progress display.")],
        False,
    ),
)
SHARED_NAMES = tuple(name for name, _, _ in SHARED_OPTIONS)
