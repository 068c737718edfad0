"""ParticleMetadata: the one columnar metadata type that every reader returns."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cryolike_convert.errors import MetadataError
from cryolike_convert.image_descriptor import (
    ImageDescriptor,  # CryoLike's path: cryolike_convert.metadata
)

#: Per-row array fields that may be absent (``None``).
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "pixel_size_angstrom",
    "uid",
    "sign",
    "angle_rotation_rad",
    "angle_tilt_rad",
    "angle_psi_rad",
    "ctf_bfactor",
    "ctf_scalefactor",
    "stack_file_index",
    "group",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ParticleMetadata:
    """One row per particle image, as numpy columns in canonical units.

    Lens values keep the dtype of their source (float32 from ``.cs``, float64 from
    ``.star``), so that written values equal the input exactly.

    Attributes
    ----------
    source_path
        The metadata file the rows came from (for messages and the manifest).
    source_row
        int64 ``(n,)``: row in the metadata table, or running image number in the
        job-directory and paired modes.
    stored_path, stored_index
        The image location as written in the metadata (``blob/path`` bytes or the
        ``rlnImageName`` path; ``blob/idx`` or the 0-based STAR index), ``(n,)``.
    stack_index
        int64 ``(n,)``: 0-based image index inside its stack file.
    defocus_u_angstrom, defocus_v_angstrom, defocus_angle_rad, phase_shift_rad
        Per-image CTF values, ``(n,)``.
    voltage_kv, spherical_aberration_mm, amplitude_contrast_fraction
        Per-row microscope values, ``(n,)``; one run needs them unique.
    pixel_size_angstrom, uid, sign, angle_*_rad, ctf_bfactor, ctf_scalefactor
        Optional per-row columns.
    stack_files, stack_file_index
        The resolved stack files (a table) and, per row, the int64 position of its
        file in that table (``-1``: not found), once paths are resolved. Paths are
        stored once per file, not once per row, so 10^7 rows stay small.
    group
        int64 ``(n,)`` input-file number in the paired mode, where every group is
        flushed into its own stacks.
    field_labels
        Column name → the source format's field name, for messages.
    """

    source_path: Path
    source_row: np.ndarray
    stored_path: np.ndarray
    stored_index: np.ndarray
    stack_index: np.ndarray
    defocus_u_angstrom: np.ndarray
    defocus_v_angstrom: np.ndarray
    defocus_angle_rad: np.ndarray
    phase_shift_rad: np.ndarray
    voltage_kv: np.ndarray
    spherical_aberration_mm: np.ndarray
    amplitude_contrast_fraction: np.ndarray
    pixel_size_angstrom: np.ndarray | None = None
    uid: np.ndarray | None = None
    sign: np.ndarray | None = None
    angle_rotation_rad: np.ndarray | None = None
    angle_tilt_rad: np.ndarray | None = None
    angle_psi_rad: np.ndarray | None = None
    ctf_bfactor: np.ndarray | None = None
    ctf_scalefactor: np.ndarray | None = None
    stack_files: tuple[str, ...] = ()
    stack_file_index: np.ndarray | None = None
    group: np.ndarray | None = None
    field_labels: dict[str, str] = dataclasses.field(default_factory=dict)

    def label(self, column: str) -> str:
        """The source format's name for a column (e.g. ``blob/psize_A``)."""
        return self.field_labels.get(column, column)

    def __post_init__(self) -> None:
        n_rows = len(self.source_row)
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if isinstance(value, np.ndarray) and len(value) != n_rows:
                raise MetadataError(
                    f"{self.source_path}: column {item.name} has {len(value)} rows, "
                    f"expected {n_rows}",
                    path=self.source_path,
                    field=item.name,
                )

    def __len__(self) -> int:
        return len(self.source_row)

    def take(self, rows: np.ndarray) -> ParticleMetadata:
        """Return the metadata of the given row positions, in that order."""
        changes = {
            item.name: getattr(self, item.name)[rows]
            for item in dataclasses.fields(self)
            if isinstance(getattr(self, item.name), np.ndarray)
        }
        return dataclasses.replace(self, **changes)

    def stack_paths(self) -> np.ndarray:
        """The resolved stack file of every row, as a ``<U`` array ('' if missing)."""
        if self.stack_file_index is None:
            return np.full(len(self), "", dtype="<U1")
        table = np.array([*self.stack_files, ""], dtype=str)
        paths: np.ndarray = table[self.stack_file_index]
        return paths

    def with_compact_files(self) -> ParticleMetadata:
        """The same rows with a file table holding only the files they use."""
        if self.stack_file_index is None:
            return self
        used, codes = np.unique(self.stack_file_index, return_inverse=True)
        valid = used[used >= 0]
        offset = 1 if used.size and used[0] < 0 else 0
        return dataclasses.replace(
            self,
            stack_files=tuple(self.stack_files[int(i)] for i in valid),
            stack_file_index=codes.reshape(-1).astype(np.int64) - offset,
        )

    def row_label(self, position: int) -> str:
        """A human label for one row: row number, uid and image location."""
        parts = [f"row {int(self.source_row[position])}"]
        if self.uid is not None:
            parts.append(f"uid {int(self.uid[position])}")
        parts.append(
            f"{decode_text(self.stored_path[position])}@{int(self.stack_index[position])}"
        )
        return ", ".join(parts)


def decode_text(value: object) -> str:
    """Decode a bytes or numpy string value as UTF-8 text."""
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def concatenate_metadata(parts: list[ParticleMetadata]) -> ParticleMetadata:
    """Concatenate metadata tables with the same columns (the first's source path).

    The parts are readers' output, before their stack paths are resolved (no file
    table yet): resolution happens once, on the whole table.
    """
    first = parts[0]
    changes: dict[str, Any] = {}
    for item in dataclasses.fields(first):
        values = [getattr(part, item.name) for part in parts]
        if all(isinstance(value, np.ndarray) for value in values):
            changes[item.name] = np.concatenate(values)
        elif any(isinstance(value, np.ndarray) for value in values):
            changes[item.name] = None
    return dataclasses.replace(first, **changes)


__all__ = [
    "OPTIONAL_COLUMNS",
    "ImageDescriptor",
    "ParticleMetadata",
    "concatenate_metadata",
    "decode_text",
]
