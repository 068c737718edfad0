"""CryoLike-named entry points for CryoSPARC inputs (indexed ``.cs`` files, job folders)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from cryolike_convert.compat.convert import PathLike, convert
from cryolike_convert.execution.pipeline import ConversionReport, ProgressCallback
from cryolike_convert.image_descriptor import DerivedGrid, ImageDescriptor
from cryolike_convert.options import ExecutorName, OnProblem
from cryolike_convert.readers.cryosparc.indexed import read_indexed_cryosparc
from cryolike_convert.readers.cryosparc.job import read_cryosparc_job
from cryolike_convert.readers.selection import SelectionInput


def convert_particle_stacks_from_indexed_cryosparc_file(
    params_input: PathLike | ImageDescriptor | DerivedGrid,
    file_cs: PathLike | Sequence[PathLike],
    folder_cryosparc: PathLike = "",
    folder_output: PathLike = "",
    batch_size: int = 1024,
    n_stacks_max: int = -1,
    pixel_size: float | None = None,
    downsample_factor: int = 1,
    downsample_type: Literal["mean", "max"] = "mean",
    skip_exist: bool = False,
    flag_plots: bool = True,
    *,
    overwrite: bool = False,
    project_dir: PathLike | None = None,
    on_missing: OnProblem = "error",
    on_invalid: OnProblem = "error",
    workers: int | None = None,
    executor: ExecutorName = "local",
    scheduler_address: str | None = None,
    downsample_box: int | None = None,
    apply_sign: bool = False,
    ind: SelectionInput | None = None,
    uids: SelectionInput | None = None,
    progress: ProgressCallback | None = None,
) -> ConversionReport:
    """Convert the particles listed in a CryoSPARC ``.cs`` file.

    Images are written in ``.cs`` row order. ``blob/path`` is looked up by basename
    in ``folder_cryosparc`` when given; otherwise as an absolute path, or relative to
    the current folder, the CryoSPARC project folder (``project_dir``, or inferred as
    the parent of the ``J<n>`` folder holding ``file_cs``) and ``file_cs``'s folder.

    Parameters
    ----------
    params_input
        The params file (or an :class:`ImageDescriptor`); the output grid. A
        :class:`~cryolike_convert.image_descriptor.DerivedGrid` derives it from
        the data and writes it to ``folder_output/params.npz``.
    file_cs
        The ``.cs`` file with ``ctf/*`` and ``blob/path``/``blob/idx``; or a
        ``.csg`` result group; or several ``.cs`` files (the main file, then
        passthrough files), joined on ``uid``.
    folder_cryosparc
        Folder holding the MRC stacks ('' = use the stored paths).
    folder_output
        Output folder ('' = current folder).
    batch_size, n_stacks_max
        Images per stack; stop after that many stacks (-1: all).
    pixel_size
        Å per pixel of the stored images; by default from ``blob/psize_A`` or
        the MRC header. Must agree with ``blob/psize_A`` when both are given.
    downsample_factor, downsample_type
        Integer pooling factor and ``'mean'``/``'max'``.
    skip_exist
        Resume a previous run in ``folder_output`` (finished stacks are kept).
    flag_plots
        Write PNG plots of every stack.
    overwrite
        Replace a previous run in ``folder_output``.
    project_dir
        CryoSPARC project folder for relative ``blob/path`` values.
    on_missing, on_invalid
        ``'skip'`` converts the rest and reports missing stacks or bad images.
    workers
        Threads converting blocks of images in this process (with
        ``executor='dask'``: worker processes of the local cluster); default one
        per available CPU core. The output does not depend on it.
    executor
        ``'local'`` (this machine) or ``'dask'`` (one task per stack on a
        ``dask.distributed`` cluster; ``pip install 'cryolike-convert[dask]'``).
    scheduler_address
        The Dask scheduler to use (``tcp://host:8786``); ``None`` starts a local
        cluster for the run.
    downsample_box
        Fourier-crop the images to this box (pixels) instead of pooling; the pixel
        size grows by ``box / downsample_box``.
    apply_sign
        Multiply each image by its ``blob/sign`` (CryoLike ignores the sign).
    ind, uids
        Convert only these rows (0-based row numbers) or these ``uid`` values: a
        ``.npy`` file (never unpickled), a text file of integers, or a sequence.
        The manifest records the rows left out.
    progress
        Called with a :class:`~cryolike_convert.execution.pipeline.ConversionProgress`
        when conversion starts, after every block of images and after every stack.

    Returns
    -------
    ConversionReport

    Raises
    ------
    ConversionError
        With the file, row and field for any problem, before anything is written.
    """
    return convert(
        lambda: read_indexed_cryosparc(file_cs, project_dir=project_dir),
        locals(),
        folder=folder_cryosparc or None,
    )


#: The name used in CryoLike's tutorial (``read_cryosparc_file.rst``).
convert_particle_stacks_from_indexed_cryosparc = (
    convert_particle_stacks_from_indexed_cryosparc_file
)


def convert_particle_stacks_from_cryosparc_job_directory(
    params_input: PathLike | ImageDescriptor | DerivedGrid,
    folder_cryosparc: PathLike = "",
    job_number: int | str = 0,
    folder_output: PathLike = "",
    batch_size: int = 1024,
    n_stacks_max: int = -1,
    pixel_size: float | None = None,
    downsample_factor: int = 1,
    downsample_type: Literal["mean", "max"] = "mean",
    skip_exist: bool = False,
    flag_plots: bool = True,
    *,
    overwrite: bool = False,
    on_missing: OnProblem = "error",
    on_invalid: OnProblem = "error",
    workers: int | None = None,
    executor: ExecutorName = "local",
    scheduler_address: str | None = None,
    downsample_box: int | None = None,
    apply_sign: bool = False,
    ind: SelectionInput | None = None,
    uids: SelectionInput | None = None,
    progress: ProgressCallback | None = None,
) -> ConversionReport:
    """Convert a CryoSPARC job folder ``folder_cryosparc/J<job_number>``.

    Metadata come from ``J<n>_passthrough_particles.cs`` (joined on ``uid`` with
    ``J<n>_particles.cs`` where fields are missing); images from
    ``restack/batch_XXXXXX_restacked.mrc`` (or, without ``restack/``,
    ``downsample/batch_XXXXXX_downsample.mrc``), read from 000000 up to the first
    missing number. Row ``i`` belongs to the ``i``-th image across the files. Files
    after a gap and rows without an image are reported, not converted.

    Parameters
    ----------
    params_input, folder_output, batch_size, n_stacks_max, downsample_factor,
    downsample_type, skip_exist, flag_plots, overwrite, on_missing, on_invalid, workers,
    executor, scheduler_address, downsample_box, apply_sign, ind, uids, progress
        As for :func:`convert_particle_stacks_from_indexed_cryosparc_file`; ``ind``
        counts the rows of ``J<n>_passthrough_particles.cs``.
    folder_cryosparc
        The folder holding ``J<n>`` (the CryoSPARC project folder), or the job
        folder ``J<n>`` itself.
    job_number
        ``n`` of ``J<n>`` (not zero-padded), or ``'J<n>'``; 0 with a job folder
        takes ``n`` from its name.
    pixel_size
        Å per pixel of the stored images; by default ``blob/psize_A`` when a job
        file has it, else the MRC header.

    Returns
    -------
    ConversionReport

    Raises
    ------
    ConversionError
        Missing job folder, metadata file or image folder (naming the paths looked
        for), fewer rows than images, and every check of the indexed mode.
    """
    return convert(lambda: read_cryosparc_job(folder_cryosparc, job_number), locals())


__all__ = [
    "convert_particle_stacks_from_cryosparc_job_directory",
    "convert_particle_stacks_from_indexed_cryosparc",
    "convert_particle_stacks_from_indexed_cryosparc_file",
]
