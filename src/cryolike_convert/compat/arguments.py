"""CryoLike's wrapper arguments → the params file and ConversionOptions."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.options import ConversionOptions
from cryolike_convert.output.manifest import describe_input_file

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


__all__ = ["PathLike", "load_params", "wrapper_options"]
