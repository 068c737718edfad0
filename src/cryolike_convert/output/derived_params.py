"""The params file of a derived grid, written into the output folder (``OUT/params.npz``)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO, Any

from cryolike_convert.errors import (
    OVERWRITE,
    CorruptManifestError,
    OutputExistsError,
    spelled,
)
from cryolike_convert.formats.npz import write_npz
from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.output.layout import OutputLayout, write_atomic
from cryolike_convert.output.manifest import read_manifest

#: Name of the derived params file inside the output folder.
DERIVED_PARAMS_NAME = "params.npz"


class DerivedParams:
    """The params file a run with a derived grid writes, and the care it takes.

    A file ``OUT/params.npz`` that a previous run derived (its manifest says so)
    or that holds the same bytes may be replaced; any other file of that name is
    the user's and is never touched.

    Parameters
    ----------
    layout
        The output folder.
    descriptor
        The derived grid.
    """

    def __init__(self, layout: OutputLayout, descriptor: ImageDescriptor) -> None:
        self.path = layout.root / DERIVED_PARAMS_NAME
        self.descriptor = descriptor
        buffer = io.BytesIO()
        write_npz(buffer, descriptor.arrays)
        self._bytes = buffer.getvalue()
        self._created = False
        self._layout = layout

    def record(self) -> dict[str, Any]:
        """The manifest's ``inputs.params`` entry."""
        return {
            "path": str(self.path),
            "derived": True,
            "grid": self.descriptor.describe(),
        }

    def check_writable(self) -> None:
        """Refuse to run when ``OUT/params.npz`` is a file this tool did not derive.

        Call before the output folder is prepared (the previous manifest says
        whether an earlier run derived the file).

        Raises
        ------
        OutputExistsError
            If the file exists, differs, and no previous run derived it.
        OutputError
            If a previous manifest cannot be read.
        """
        if not self.path.exists() or self._same_bytes():
            return
        previous = read_manifest(self._layout) if self._layout.root.is_dir() else None
        params = (previous or {}).get("inputs", {}).get("params", {})
        if params.get("derived") and params.get("path") == str(self.path):
            return
        use = spelled(f"params_input='{self.path}'", f"--params {self.path}")
        raise OutputExistsError(
            f"{self.path}: exists and was not written by a derived-grid run, so it is "
            f"left alone; pass it as {use} to use that grid, or move it away "
            f"({OVERWRITE} does not replace it)"
        )

    def write(self) -> Path:
        """Write the file (atomically) unless it already holds the same bytes."""
        if not self._same_bytes():
            write_atomic(self.path, self._write_to)
            self._created = True
        return self.path

    def remove_if_created(self) -> None:
        """Remove the file if this run wrote it (the run failed)."""
        if self._created:
            self.path.unlink(missing_ok=True)

    def _write_to(self, handle: IO[bytes]) -> None:
        handle.write(self._bytes)

    def _same_bytes(self) -> bool:
        try:
            return self.path.is_file() and self.path.read_bytes() == self._bytes
        except OSError:
            return False


def remove_previous_derived(layout: OutputLayout) -> None:
    """Remove ``OUT/params.npz`` if the previous run's manifest says it derived it.

    Called when a run replaces the previous one (``overwrite``), so that a stale
    grid does not stay beside stacks written on another grid.

    A damaged manifest names nothing: its folder's ``params.npz``, if any, is left
    alone (never delete a file this tool may not have written).

    Raises
    ------
    OutputError
        If a previous manifest cannot be read.
    """
    try:
        previous = read_manifest(layout) if layout.root.is_dir() else None
    except CorruptManifestError:
        return
    params = (previous or {}).get("inputs", {}).get("params", {})
    path = layout.root / DERIVED_PARAMS_NAME
    if params.get("derived") and params.get("path") == str(path):
        path.unlink(missing_ok=True)


__all__ = ["DERIVED_PARAMS_NAME", "DerivedParams", "remove_previous_derived"]
