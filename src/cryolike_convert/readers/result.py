"""ReadResult: what every reader returns — the particles and what it knows of its input."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryolike_convert.metadata import ParticleMetadata


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadResult:
    """The particles of one input, with the reader's knowledge of where it came from.

    Every reader (indexed ``.cs``, job folder, indexed STAR, paired STAR/MRC) returns
    this type, so the rest of the pipeline never asks which format it was.

    Attributes
    ----------
    mode
        The input kind, as recorded in the manifest (``cryosparc_indexed``, ...).
    metadata
        The particles with their stored (not yet resolved) stack paths.
    metadata_files
        The metadata files read, in order (hashed into the manifest).
    search_dirs
        ``(rule, folder)`` pairs tried in order for a relative stored path: the
        reader's guess of the project folder among them. Resolution itself happens
        in one place, :func:`cryolike_convert.readers.paths.resolve_stack_paths`.
    details
        Extra facts for the manifest's ``inputs`` (defaults filled in, the
        pixel-size column, the stacks of a job folder, ...).
    rows_without_images
        ``{"rows": ranges, "reason": text}`` for rows that have no image.
    notes
        Warnings about the input (files ignored, values defaulted).
    """

    mode: str
    metadata: ParticleMetadata
    metadata_files: tuple[Path, ...]
    search_dirs: tuple[tuple[str, Path], ...]
    details: Mapping[str, Any] = field(default_factory=dict)
    rows_without_images: tuple[dict[str, Any], ...] = ()
    notes: tuple[str, ...] = ()


def relative_search_dirs(
    project_dir: Path | None, metadata_file: Path
) -> tuple[tuple[str, Path], ...]:
    """The folders a relative stored path is tried in for an indexed metadata file.

    The current folder first, then the project folder (given or guessed), then the
    metadata file's own folder.
    """
    dirs: list[tuple[str, Path]] = [("cwd", Path.cwd())]
    if project_dir is not None:
        dirs.append(("project_dir", project_dir))
    dirs.append(("metadata_dir", metadata_file.resolve().parent))
    return tuple(dirs)


__all__ = ["ReadResult", "relative_search_dirs"]
