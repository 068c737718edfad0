"""The one step every CryoLike-named wrapper shares: arguments → params, options, run."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryolike_convert.execution.library_warnings import routed_warnings
from cryolike_convert.execution.pipeline import ConversionReport, ProgressCallback, run
from cryolike_convert.image_descriptor import DerivedGrid, ImageDescriptor
from cryolike_convert.options import ConversionOptions
from cryolike_convert.output.manifest import describe_input_file, row_ranges
from cryolike_convert.readers.os_errors import input_errors_named
from cryolike_convert.readers.paths import resolve_stack_paths, resolve_user_path
from cryolike_convert.readers.result import ReadResult
from cryolike_convert.readers.selection import Selection, select_particles

PathLike = str | os.PathLike[str]
#: CryoLike's argument names → ConversionOptions fields.
_OPTION_NAMES = {
    "pixel_size": "pixel_size_angstrom",
    "flag_plots": "make_plots",
    "skip_exist": "resume",
}


def wrapper_options(arguments: dict[str, Any], **fixed: Any) -> ConversionOptions:
    """ConversionOptions from a wrapper's arguments (its ``locals()``), by name."""
    fields = {item.name for item in dataclasses.fields(ConversionOptions)}
    chosen = {_OPTION_NAMES.get(name, name): value for name, value in arguments.items()}
    return ConversionOptions(
        **{k: v for k, v in chosen.items() if k in fields}, **fixed
    )


def load_params(
    params_input: PathLike | ImageDescriptor | DerivedGrid,
) -> tuple[ImageDescriptor | DerivedGrid, dict[str, object]]:
    """Load the params file (or take the given descriptor) and describe it for the manifest.

    A :class:`DerivedGrid` is passed on: the run derives the grid from the data
    and records the params file it writes.
    """
    if isinstance(params_input, DerivedGrid):
        return params_input, {"derived": True}
    if isinstance(params_input, ImageDescriptor):
        return params_input, {"in_memory": True, "grid": params_input.describe()}
    path = Path(params_input).expanduser()
    return ImageDescriptor.load(path), describe_input_file(path)


def convert(
    read: Callable[[], ReadResult],
    arguments: dict[str, Any],
    *,
    folder: PathLike | None = None,
    **fixed: Any,
) -> ConversionReport:
    """Run one wrapper: CryoLike's argument names → ConversionOptions, then convert.

    This is the only place CryoLike's names (``skip_exist``, ``flag_plots``,
    ``pixel_size``) are translated; the command line builds its ConversionOptions
    from its own flags and calls :func:`convert_input` directly.

    Parameters
    ----------
    read
        Calls the reader (after the params file is loaded, so a bad params file
        is reported first).
    arguments
        The wrapper's ``locals()``: CryoLike's argument names and ours.
    folder
        A folder in which each stored path's basename is looked up, if given.
    **fixed
        ConversionOptions fields the wrapper fixes (``flush_per_group``).

    Returns
    -------
    ConversionReport

    Raises
    ------
    ConversionError
        Any problem with the inputs, the options or the output folder.
    """
    params = load_params(arguments["params_input"])
    options = wrapper_options(arguments, **fixed)
    return convert_input(
        read,
        params,
        arguments["folder_output"],
        options,
        folder=folder,
        progress=arguments.get("progress"),
        ind=arguments.get("ind"),
        uids=arguments.get("uids"),
    )


def convert_input(
    read: Callable[[], ReadResult],
    params: tuple[ImageDescriptor | DerivedGrid, dict[str, object]],
    folder_output: PathLike,
    options: ConversionOptions,
    *,
    folder: PathLike | None = None,
    progress: ProgressCallback | None = None,
    ind: PathLike | None = None,
    uids: PathLike | None = None,
) -> ConversionReport:
    """Read the input, select, resolve its paths, convert onto the grid of ``params``.

    Parameters
    ----------
    read
        Calls the reader.
    params
        The grid and its manifest record, from :func:`load_params`.
    folder_output
        The output folder ('' = current folder).
    options
        The run's options.
    folder
        A folder in which each stored path's basename is looked up, if given.
    progress
        The progress callback.
    ind, uids
        A file of row indices or of uids selecting the particles to convert.

    Returns
    -------
    ConversionReport

    Raises
    ------
    ConversionError
        Any problem with the inputs, the options or the output folder.
    """
    descriptor, params_record = params
    with input_errors_named(), routed_warnings():
        result = read()
        selected, selection = select_particles(result.metadata, ind=ind, uids=uids)
        stack_folder = resolve_user_path(folder, "stack folder") if folder else None
        metadata, resolution = resolve_stack_paths(
            selected, stack_folder, result.search_dirs
        )
        inputs = {
            "mode": result.mode,
            "metadata": [describe_input_file(path) for path in result.metadata_files],
            "params": params_record,
            "folder": str(stack_folder) if stack_folder else None,
            **result.details,
        }
    if selection is not None:
        inputs["selection"] = describe_selection(selection)
    return run(
        metadata,
        descriptor,
        Path(folder_output or "."),
        options,
        inputs=inputs,
        resolution=resolution,
        progress=progress,
        rows_without_images=list(result.rows_without_images),
        notes=list(result.notes),
    )


def describe_selection(selection: Selection) -> dict[str, Any]:
    """The manifest's record of a selection: its source and every row left out."""
    return {
        "kind": selection.kind,
        "file": describe_input_file(selection.file) if selection.file else None,
        "n_rows": selection.n_rows,
        "n_selected": selection.n_rows - len(selection.unselected_rows),
        "unselected_rows": row_ranges(selection.unselected_rows),
    }


__all__ = [
    "PathLike",
    "convert",
    "convert_input",
    "describe_selection",
    "load_params",
    "wrapper_options",
]
