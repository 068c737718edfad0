"""Frozen, validated parameter objects for the user's choices."""

from __future__ import annotations

import numbers
import os
from dataclasses import dataclass
from typing import Literal

from cryolike_convert.errors import ConversionError, spelled


class OptionError(ConversionError, ValueError):
    """An option value is out of range."""


OnProblem = Literal["error", "skip"]
#: ConversionOptions field → (the wrappers' keyword, the command-line flag).
OPTION_SPELLINGS: dict[str, tuple[str, str]] = {
    "batch_size": ("batch_size", "--batch-size"),
    "n_stacks_max": ("n_stacks_max", "--n-stacks-max"),
    "pixel_size_angstrom": ("pixel_size", "--pixel-size"),
    "downsample_factor": ("downsample_factor", "--downsample"),
    "downsample_type": ("downsample_type", "--downsample-type"),
    "downsample_box": ("downsample_box", "--box"),
    "apply_sign": ("apply_sign", "--apply-sign"),
    "make_plots": ("flag_plots", "--plots/--no-plots"),
    "on_missing": ("on_missing", "--skip-missing"),
    "on_invalid": ("on_invalid", "--skip-invalid"),
    "overwrite": ("overwrite", "--overwrite"),
    "resume": ("skip_exist", "--resume"),
    "workers": ("workers", "--workers"),
    "flush_per_group": ("flush_per_group", "(one STAR/MRC pair per stack)"),
    "executor": ("executor", "--executor"),
    "scheduler_address": ("scheduler_address", "--scheduler"),
}


def option_name(field: str) -> str:
    """An option's name in both spellings (see :func:`cryolike_convert.errors.spelled`).

    Parameters
    ----------
    field
        A :class:`ConversionOptions` field (unknown names are used as they are).

    Returns
    -------
    str
        The marked-up name: the wrapper keyword in Python, the flag on the CLI.
    """
    python, cli = OPTION_SPELLINGS.get(field, (field, field))
    return spelled(python, cli)


ExecutorName = Literal["local", "dask"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversionOptions:
    """How one conversion runs.

    Attributes
    ----------
    batch_size
        Images per output stack.
    n_stacks_max
        Stop after this many stacks (``<= 0``: no limit); the rest is reported.
    pixel_size_angstrom
        Manual source pixel size (before downsampling), Å.
    downsample_factor, downsample_type
        Integer pooling factor ≥ 1 and ``'mean'``/``'max'``.
    downsample_box
        Fourier-crop the images to this box (pixels) instead of pooling; the
        pixel size grows by ``box / downsample_box``.
    apply_sign
        Multiply each image by its ``blob/sign`` (CryoLike ignores the sign).
    make_plots
        Write PNG plots per stack.
    on_missing
        ``'error'``: a missing/unreadable stack or an out-of-range index stops the
        run before anything is written; ``'skip'``: those rows are reported.
    on_invalid
        The same for flat or non-finite images.
    overwrite, resume
        What to do with an output folder that holds a previous run.
    workers
        Threads converting blocks of images in parallel in this process (with
        ``executor='dask'``: the worker processes of the local cluster); ``None``
        is one per CPU core available to this process (see :func:`resolve_workers`).
        The output is the same for any number of workers.
    flush_per_group
        Never mix input groups (paired STAR files) in one stack.
    executor
        ``'local'``: ``workers`` threads of this process;
        ``'dask'``: one task per stack on a ``dask.distributed`` cluster
        (needs ``pip install 'cryolike-convert[dask]'``).
    scheduler_address
        With ``executor='dask'``: the scheduler to connect to (``tcp://host:port``);
        ``None`` starts a local cluster of ``workers`` processes for the run.
    """

    batch_size: int = 1024
    n_stacks_max: int = -1
    pixel_size_angstrom: float | None = None
    downsample_factor: int = 1
    downsample_type: Literal["mean", "max"] = "mean"
    downsample_box: int | None = None
    apply_sign: bool = False
    make_plots: bool = True
    on_missing: OnProblem = "error"
    on_invalid: OnProblem = "error"
    overwrite: bool = False
    resume: bool = False
    workers: int | None = None
    flush_per_group: bool = False
    executor: ExecutorName = "local"
    scheduler_address: str | None = None

    def __post_init__(self) -> None:
        _check_int("batch_size", self.batch_size, minimum=1)
        _check_int("n_stacks_max", self.n_stacks_max, minimum=None)
        _check_int("downsample_factor", self.downsample_factor, minimum=1)
        if self.downsample_box is not None:
            _check_int("downsample_box", self.downsample_box, minimum=2)
            if self.downsample_factor != 1:
                raise OptionError(
                    f"{option_name('downsample_factor')} (pooling) and "
                    f"{option_name('downsample_box')} (Fourier cropping) exclude each "
                    "other; choose one"
                )
        if self.workers is not None:
            _check_int("workers", self.workers, minimum=1)
        if self.downsample_type not in ("mean", "max"):
            raise OptionError(
                f"{option_name('downsample_type')} must be 'mean' or 'max'; "
                f"got {self.downsample_type!r}"
            )
        for name in ("on_missing", "on_invalid"):
            if getattr(self, name) not in ("error", "skip"):
                raise OptionError(
                    f"{name} must be 'error' or 'skip'; got {getattr(self, name)!r}"
                )
        if self.pixel_size_angstrom is not None and not self.pixel_size_angstrom > 0:
            raise OptionError(
                f"{option_name('pixel_size_angstrom')} must be > 0 Å; "
                f"got {self.pixel_size_angstrom}"
            )
        _check_executor(self.executor, self.scheduler_address)
        if self.overwrite and self.resume:
            raise OptionError(
                f"{option_name('overwrite')} and {option_name('resume')} exclude "
                "each other"
            )

    def describe(self) -> dict[str, object]:
        """The options that shape the output, for the manifest."""
        return {
            "batch_size": self.batch_size,
            "n_stacks_max": self.n_stacks_max,
            "pixel_size_angstrom": self.pixel_size_angstrom,
            "downsample_factor": self.downsample_factor,
            "downsample_type": self.downsample_type,
            "downsample_box": self.downsample_box,
            "apply_sign": self.apply_sign,
            "make_plots": self.make_plots,
            "on_missing": self.on_missing,
            "on_invalid": self.on_invalid,
            "flush_per_group": self.flush_per_group,
        }


def _check_executor(executor: object, scheduler_address: object) -> None:
    if executor not in ("local", "dask"):
        raise OptionError(
            f"{option_name('executor')} must be 'local' or 'dask'; got {executor!r}"
        )
    if scheduler_address is None:
        return
    if not isinstance(scheduler_address, str) or not scheduler_address.strip():
        raise OptionError(
            f"{option_name('scheduler_address')} must be an address such as "
            f"'tcp://host:8786'; got {scheduler_address!r}"
        )
    if executor != "dask":
        raise OptionError(
            f"{option_name('scheduler_address')} is only used with "
            f"{spelled('executor=' + repr('dask'), '--executor dask')}"
        )


def _check_int(name: str, value: object, minimum: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise OptionError(f"{option_name(name)} must be an integer; got {value!r}")
    if minimum is not None and value < minimum:
        raise OptionError(f"{option_name(name)} must be ≥ {minimum}; got {value}")


def resolve_workers(workers: int | None) -> int:
    """The number of workers of a run: ``workers``, or one per available CPU core.

    The one place that decides it, for threads (local runs) and for the processes
    of a local Dask cluster alike. Cores this process may not run on (CPU affinity,
    as set by SLURM or ``taskset``) are not counted.
    """
    if workers is not None:
        return workers
    available = getattr(os, "sched_getaffinity", None)
    count = len(available(0)) if available is not None else os.cpu_count()
    return max(1, count or 1)
