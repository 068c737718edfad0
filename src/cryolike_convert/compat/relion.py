"""CryoLike-named entry points for RELION STAR inputs (indexed and paired)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from cryolike_convert.compat.convert import PathLike, convert
from cryolike_convert.execution.pipeline import ConversionReport, ProgressCallback
from cryolike_convert.image_descriptor import DerivedGrid, ImageDescriptor
from cryolike_convert.options import ExecutorName, OnProblem
from cryolike_convert.readers.relion.indexed import read_indexed_star
from cryolike_convert.readers.relion.paired import as_path_list, read_paired_star
from cryolike_convert.readers.selection import SelectionInput


def convert_particle_stacks_from_indexed_star_file(
    params_input: PathLike | ImageDescriptor | DerivedGrid,
    star_file: PathLike,
    folder_mrc: PathLike = "",
    folder_output: PathLike = "",
    batch_size: int = 1024,
    downsample_factor: int = 1,
    downsample_type: Literal["mean", "max"] = "mean",
    pixel_size: float | None = None,
    flag_plots: bool = True,
    *,
    skip_exist: bool = False,
    overwrite: bool = False,
    n_stacks_max: int = -1,
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
    """Convert the particles listed in an indexed RELION STAR file.

    Images are written in ``data_particles`` row order. RELION 3.1+ optics groups
    are joined in. The stack part of ``rlnImageName`` (``NNNNNN@stack``, 1-based)
    is looked up by basename in ``folder_mrc`` when given; otherwise as an absolute
    path, or relative to the current folder, the RELION project folder
    (``project_dir``, or inferred from ``<project>/<Job>/jobNNN/file.star``) and
    the STAR file's folder.

    Parameters
    ----------
    params_input
        The params file (or an :class:`ImageDescriptor`, or a
        :class:`~cryolike_convert.image_descriptor.DerivedGrid`); the output grid.
    star_file
        The STAR file.
    folder_mrc
        Folder holding the MRC stacks ('' = use the stored paths).
    folder_output
        Output folder ('' = current folder).
    batch_size, n_stacks_max
        Images per stack; stop after that many stacks (-1: all).
    downsample_factor, downsample_type
        Integer pooling factor and ``'mean'``/``'max'``.
    pixel_size
        Å per pixel of the stored images; by default from ``rlnImagePixelSize``,
        ``rlnDetectorPixelSize``/``rlnMagnification`` or the MRC header. Must
        agree with the STAR value when both are given.
    flag_plots
        Write PNG plots of every stack.
    skip_exist, overwrite
        Resume, or replace, a previous run in ``folder_output``.
    project_dir
        RELION project folder for relative image paths.
    on_missing, on_invalid, workers, executor, scheduler_address, downsample_box,
    apply_sign, ind, uids, progress
        As for :func:`cryolike_convert.compat.convert_particle_stacks_from_indexed_cryosparc_file`
        (``apply_sign`` needs a sign column, which STAR files do not have).

    Returns
    -------
    ConversionReport

    Raises
    ------
    ConversionError
        With the file, row and field for any problem, before anything is written.
    """
    return convert(
        lambda: read_indexed_star(star_file, project_dir=project_dir),
        locals(),
        folder=folder_mrc or None,
    )


def convert_particle_stacks_from_paired_star_and_mrc_files(
    params_input: PathLike | ImageDescriptor | DerivedGrid,
    particle_file_list: PathLike | Sequence[PathLike],
    star_file_list: PathLike | Sequence[PathLike],
    folder_output: PathLike = "",
    batch_size: int = 1024,
    pixel_size: float | None = None,
    defocus_angle_is_degree: bool = True,
    phase_shift_is_degree: bool = True,
    downsample_factor: int = 1,
    downsample_type: Literal["mean", "max"] = "mean",
    skip_exist: bool = False,
    flag_plots: bool = True,
    overwrite: bool = False,
    *,
    n_stacks_max: int = -1,
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
    """Convert MRC stacks, each described row by row by its own STAR file.

    Row ``i`` of ``star_file_list[k]`` belongs to image ``i`` of
    ``particle_file_list[k]``; the counts must match for every pair (checked before
    anything is written). Output follows list order, then image order, and every
    file is flushed into its own stacks, which record ``stack_start``/``stack_end``.

    Parameters
    ----------
    params_input
        The params file (or an :class:`ImageDescriptor`, or a
        :class:`~cryolike_convert.image_descriptor.DerivedGrid`); the output grid.
    particle_file_list, star_file_list
        The MRC stacks and their STAR files, in the same order and of equal length.
    folder_output
        Output folder ('' = current folder).
    batch_size, n_stacks_max
        Images per stack; stop after that many stacks (-1: all).
    pixel_size
        Å per pixel of the stored images; by default from the STAR files
        (``rlnImagePixelSize``, ``rlnDetectorPixelSize``/``rlnMagnification``) or
        the MRC headers.
    defocus_angle_is_degree, phase_shift_is_degree
        Whether ``rlnDefocusAngle``/``rlnPhaseShift`` are in degrees (else radians).
    downsample_factor, downsample_type
        Integer pooling factor and ``'mean'``/``'max'``.
    skip_exist, overwrite
        Resume, or replace, a previous run in ``folder_output``.
    flag_plots
        Write PNG plots of every stack.
    on_missing, on_invalid, workers, executor, scheduler_address, downsample_box,
    apply_sign, ind, uids, progress
        As for :func:`cryolike_convert.compat.convert_particle_stacks_from_indexed_cryosparc_file`
        (``apply_sign`` needs a sign column, which STAR files do not have).

    Returns
    -------
    ConversionReport

    Raises
    ------
    ConversionError
        With the file, row and field for any problem, before anything is written.
    """
    return convert(
        lambda: read_paired_star(
            as_path_list(particle_file_list),
            as_path_list(star_file_list),
            defocus_angle_is_degree=defocus_angle_is_degree,
            phase_shift_is_degree=phase_shift_is_degree,
        ),
        locals(),
        flush_per_group=True,
    )


#: The name used in CryoLike's tutorial (``read_star_file.rst``).
convert_particle_stacks_from_indexed_star_files = (
    convert_particle_stacks_from_indexed_star_file
)

__all__ = [
    "convert_particle_stacks_from_indexed_star_file",
    "convert_particle_stacks_from_indexed_star_files",
    "convert_particle_stacks_from_paired_star_and_mrc_files",
]
