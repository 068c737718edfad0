"""The one step every CryoLike-named wrapper shares: arguments → params, options, run."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryolike_convert.execution.library_warnings import routed_warnings
from cryolike_convert.execution.pipeline import ConversionReport, run
from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.options import ConversionOptions
from cryolike_convert.output.manifest import describe_input_file
from cryolike_convert.readers.os_errors import input_errors_named
from cryolike_convert.readers.paths import resolve_stack_paths, resolve_user_path
from cryolike_convert.readers.result import ReadResult

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
    params_input: PathLike | ImageDescriptor,
) -> tuple[ImageDescriptor, dict[str, object]]:
    """Load the params file (or take the given descriptor) and describe it for the manifest."""
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
    """Run one wrapper: load the params, read the input, resolve its paths, convert.

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
    descriptor, params_record = load_params(arguments["params_input"])
    options = wrapper_options(arguments, **fixed)
    with input_errors_named(), routed_warnings():
        result = read()
        stack_folder = resolve_user_path(folder, "stack folder") if folder else None
        metadata, resolution = resolve_stack_paths(
            result.metadata, stack_folder, result.search_dirs
        )
        inputs = {
            "mode": result.mode,
            "metadata": [describe_input_file(path) for path in result.metadata_files],
            "params": params_record,
            "folder": str(stack_folder) if stack_folder else None,
            **result.details,
        }
    return run(
        metadata,
        descriptor,
        Path(arguments["folder_output"] or "."),
        options,
        inputs=inputs,
        resolution=resolution,
        progress=arguments.get("progress"),
        rows_without_images=list(result.rows_without_images),
        notes=list(result.notes),
    )


__all__ = ["PathLike", "convert", "load_params", "wrapper_options"]
