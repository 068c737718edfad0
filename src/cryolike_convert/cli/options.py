"""The options every ``cryolike convert`` subcommand shares, and their settings object."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

#: ``--folder``: where the MRC stacks are, looked up by basename (indexed inputs).
StackFolder = Annotated[
    Path | None,
    typer.Option(file_okay=False, help="Folder of the MRC stacks (by basename)."),
]


class Executor(str, Enum):
    """Where ``convert`` runs the stacks (``--executor``)."""

    local = "local"
    dask = "dask"


class DownsampleType(str, Enum):
    """How ``--downsample`` pools f x f pixel blocks."""

    mean = "mean"
    max = "max"


@dataclass(frozen=True, slots=True, kw_only=True)
class ConvertSettings:
    """The options every ``convert`` subcommand shares (see :data:`SHARED_OPTIONS`)."""

    params: Path
    out: Path
    batch_size: int
    n_stacks_max: int
    pixel_size: float | None
    downsample: int
    downsample_type: DownsampleType
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

    def api_arguments(self) -> dict[str, Any]:
        """The keyword arguments these options become in the compat wrappers."""
        return {
            "params_input": self.params,
            "folder_output": self.out,
            "batch_size": self.batch_size,
            "n_stacks_max": self.n_stacks_max,
            "pixel_size": self.pixel_size,
            "downsample_factor": self.downsample,
            "downsample_type": self.downsample_type.value,
            "skip_exist": self.resume,
            "flag_plots": self.plots_per_stack,
            "overwrite": self.overwrite,
            "on_missing": "skip" if self.skip_missing else "error",
            "on_invalid": "skip" if self.skip_invalid else "error",
            "workers": self.workers,
            "executor": self.executor.value,
            "scheduler_address": self.scheduler,
        }


_EMPTY = inspect.Parameter.empty
#: ``(name, annotation, default)`` of the options shared by ``convert`` subcommands.
SHARED_OPTIONS: tuple[tuple[str, Any, Any], ...] = (
    (
        "params",
        Annotated[
            Path,
            typer.Option(
                exists=True,
                dir_okay=False,
                help="Params file (cryolike-convert params).",
            ),
        ],
        _EMPTY,
    ),
    (
        "out",
        Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
        _EMPTY,
    ),
    ("batch_size", Annotated[int, typer.Option(min=1, help="Images per stack.")], 1024),
    (
        "n_stacks_max",
        Annotated[int, typer.Option(help="Stop after this many stacks (-1: all).")],
        -1,
    ),
    (
        "pixel_size",
        Annotated[
            float | None,
            typer.Option(
                help="Å per stored pixel (default: from metadata or MRC header).",
            ),
        ],
        None,
    ),
    (
        "downsample",
        Annotated[int, typer.Option(min=1, help="Integer pooling factor.")],
        1,
    ),
    (
        "downsample_type",
        Annotated[DownsampleType, typer.Option(help="Pooling of f x f blocks.")],
        DownsampleType.mean,
    ),
    (
        "plots",
        Annotated[
            bool,
            typer.Option(
                "--plots/--no-plots",
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
            typer.Option(
                "--plots-per-stack",
                help="Also CryoLike's 3 PNGs per stack (Python: flag_plots=True).",
            ),
        ],
        False,
    ),
    (
        "overwrite",
        Annotated[
            bool, typer.Option("--overwrite", help="Replace a previous run in OUT.")
        ],
        False,
    ),
    (
        "resume",
        Annotated[
            bool, typer.Option("--resume", help="Continue a previous run in OUT.")
        ],
        False,
    ),
    (
        "skip_missing",
        Annotated[
            bool,
            typer.Option("--skip-missing", help="Skip rows whose stack is missing."),
        ],
        False,
    ),
    (
        "skip_invalid",
        Annotated[
            bool, typer.Option("--skip-invalid", help="Skip flat or non-finite images.")
        ],
        False,
    ),
    (
        "workers",
        Annotated[
            int | None,
            typer.Option(
                min=1, help="Worker processes (default: one per core for big runs)."
            ),
        ],
        None,
    ),
    (
        "executor",
        Annotated[
            Executor,
            typer.Option(
                help="local: processes on this machine; dask: one task per stack on "
                "a Dask cluster (pip install 'cryolike-convert[dask]')."
            ),
        ],
        Executor.local,
    ),
    (
        "scheduler",
        Annotated[
            str | None,
            typer.Option(
                help="Dask scheduler address (tcp://host:8786) for --executor dask; "
                "default: a local cluster of --workers processes."
            ),
        ],
        None,
    ),
    (
        "quiet",
        Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")],
        False,
    ),
)
SHARED_NAMES = tuple(name for name, _, _ in SHARED_OPTIONS)
