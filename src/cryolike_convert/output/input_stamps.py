"""Size and modification time of every image stack read, to refuse resuming over changes.

Metadata and params files are hashed (sha256) in the manifest's ``inputs``; MRC
stacks are too large to hash on every run, so each is recorded by size and
``mtime_ns``. A file rewritten in place with the same size within the file
system's timestamp resolution is not detected.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from cryolike_convert.errors import InputFileError, OutputError


def stamp_files(paths: Iterable[str]) -> dict[str, dict[str, int]]:
    """``{path: {"size": bytes, "mtime_ns": ns}}`` for every path, sorted by path.

    Raises
    ------
    InputFileError
        If a file cannot be examined, naming it.
    """
    stamps: dict[str, dict[str, int]] = {}
    for path in sorted(set(paths)):
        try:
            info = os.stat(path)
        except OSError as err:
            raise InputFileError(
                f"{path}: cannot be examined ({err.strerror or err})"
            ) from err
        stamps[path] = {"size": int(info.st_size), "mtime_ns": int(info.st_mtime_ns)}
    return stamps


def _difference(before: Any, now: dict[str, int]) -> str | None:
    if not isinstance(before, dict):
        return "its record in the manifest is unreadable"
    parts = []
    if before.get("size") != now["size"]:
        parts.append(f"size {before.get('size')} → {now['size']} bytes")
    if before.get("mtime_ns") != now["mtime_ns"]:
        parts.append("modification time changed")
    return "; ".join(parts) or None


def check_unchanged(
    previous: Any, current: dict[str, dict[str, int]], manifest: str
) -> None:
    """The stacks read now must be the previous run's, unchanged.

    ``previous`` is the previous manifest's record (``None`` for a manifest written
    before stacks were recorded: nothing to compare).

    Raises
    ------
    OutputError
        Naming the first changed, missing or new file and what changed.
    """
    if previous is None:
        return
    if not isinstance(previous, dict):
        raise OutputError(
            f"{manifest}: its record of the image stacks is unreadable; rerun with "
            "--overwrite"
        )
    advice = (
        "resuming would mix stacks converted from the old and the new images. "
        "Restore the file, or rerun with --overwrite to convert everything again"
    )
    for path, now in current.items():
        if path not in previous:
            raise OutputError(
                f"{path}: this image stack was not read by the previous run in "
                f"{manifest}; {advice}"
            )
        change = _difference(previous[path], now)
        if change is not None:
            raise OutputError(
                f"{path}: changed since the previous run ({change}); {advice}"
            )
    for path in previous:
        if path not in current:
            raise OutputError(
                f"{path}: read by the previous run but not by this one (missing or no "
                f"longer referenced); {advice}"
            )


__all__ = ["check_unchanged", "stamp_files"]
