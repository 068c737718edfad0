"""What each reader hands to the one shared convert step, and that step.

A CryoLike-named wrapper is: its arguments → ConversionOptions (the only place
CryoLike's names such as ``skip_exist`` are translated), a reader that returns a
:class:`ConversionSource`, and :func:`convert_source`. The command line builds its
ConversionOptions from its own flags and calls the same reader and step, so option
names are translated once at each edge and never round-trip.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryolike_convert.execution.pipeline import ConversionReport, ProgressCallback, run
from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.metadata import ParticleMetadata
from cryolike_convert.options import ConversionOptions
from cryolike_convert.readers.paths import ResolvedStack


@dataclass(frozen=True, slots=True)
class ConversionSource:
    """Particles read from one kind of input, ready to convert.

    Attributes
    ----------
    metadata
        The rows, with their stack paths resolved.
    inputs
        The manifest's record of the inputs (mode first), without the params file.
    resolution
        How each stored stack path was resolved (indexed and paired modes).
    rows_without_images
        ``{"rows": ranges, "reason": ...}`` items reported, not converted.
    notes
        Warnings for the manifest and the report.
    flush_per_group
        Whether every input group (file) must get stacks of its own.
    """

    metadata: ParticleMetadata
    inputs: dict[str, Any]
    resolution: list[ResolvedStack] | None = None
    rows_without_images: list[dict[str, Any]] | None = None
    notes: list[str] | None = None
    flush_per_group: bool = False


def convert_source(
    source: ConversionSource,
    params: tuple[ImageDescriptor, dict[str, object]],
    folder_output: str | os.PathLike[str],
    options: ConversionOptions,
    progress: ProgressCallback | None = None,
) -> ConversionReport:
    """Convert ``source`` onto the grid of ``params`` (from ``load_params``).

    Raises
    ------
    ConversionError
        Any problem with the inputs, the options or the output folder.
    """
    descriptor, params_record = params
    first = {key: source.inputs[key] for key in ("mode", "metadata")}
    inputs = {**first, "params": params_record, **source.inputs}
    if source.flush_per_group:
        options = dataclasses.replace(options, flush_per_group=True)
    return run(
        source.metadata,
        descriptor,
        Path(folder_output or "."),
        options,
        inputs=inputs,
        resolution=source.resolution,
        progress=progress,
        rows_without_images=source.rows_without_images,
        notes=source.notes,
    )


__all__ = ["ConversionSource", "convert_source"]
