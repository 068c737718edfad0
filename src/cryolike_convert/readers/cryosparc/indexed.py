"""CryoSPARC ``.cs`` files → ParticleMetadata (numpy, never unpickling)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cryolike_convert.errors import (
    InvalidFieldError,
    MetadataError,
)
from cryolike_convert.metadata import ParticleMetadata
from cryolike_convert.readers.cryosparc.container import load_cs_table
from cryolike_convert.readers.cryosparc.field_types import (
    INTEGER_KINDS,
    NUMBER_KINDS,
    TEXT_KINDS,
    check_field_type,
)
from cryolike_convert.readers.cryosparc.group import ResultGroup, read_result_group
from cryolike_convert.readers.cryosparc.join import join_files, join_sibling
from cryolike_convert.readers.detect import sniff_file
from cryolike_convert.readers.paths import infer_project_dir
from cryolike_convert.readers.result import ReadResult, relative_search_dirs

#: ``.cs`` field → ParticleMetadata column, for the CTF fields every mode needs.
CTF_FIELDS: dict[str, str] = {
    "ctf/df1_A": "defocus_u_angstrom",
    "ctf/df2_A": "defocus_v_angstrom",
    "ctf/df_angle_rad": "defocus_angle_rad",
    "ctf/phase_shift_rad": "phase_shift_rad",
    "ctf/cs_mm": "spherical_aberration_mm",
    "ctf/accel_kv": "voltage_kv",
    "ctf/amp_contrast": "amplitude_contrast_fraction",
}
#: ``.cs`` fields that locate the image of each row (indexed mode).
BLOB_FIELDS: tuple[str, ...] = ("blob/path", "blob/idx")
#: Optional ``.cs`` fields → ParticleMetadata column.
OPTIONAL_FIELDS: dict[str, str] = {
    "blob/psize_A": "pixel_size_angstrom",
    "uid": "uid",
    "blob/sign": "sign",
}
#: ParticleMetadata column → ``.cs`` field, for messages.
FIELD_LABELS: dict[str, str] = {
    **{column: field for field, column in CTF_FIELDS.items()},
    **{column: field for field, column in OPTIONAL_FIELDS.items()},
    "stack_index": "blob/idx",
    "stored_path": "blob/path",
}


def read_indexed_cryosparc(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    project_dir: str | os.PathLike[str] | None = None,
) -> ReadResult:
    """Read an indexed ``.cs`` file: one row per particle with ``blob/path``/``blob/idx``.

    ``path`` may also be a ``.csg`` result group (its ``.cs`` files are joined as
    the group says), or several ``.cs`` files: the main file first, then
    passthrough files whose fields it lacks, joined on ``uid`` (the first file
    that has a field wins). Relative ``blob/path`` values are looked for in the
    current folder, then the CryoSPARC project folder (``project_dir``, else
    guessed as the parent of the ``J<n>`` folder holding the main file), then
    the main file's own folder.

    Raises
    ------
    ConversionError
        As :func:`read_cryosparc_metadata`; for a ``.csg`` file as
        :func:`~cryolike_convert.readers.cryosparc.group.read_result_group`.
    """
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    files = [Path(item).expanduser() for item in paths]
    group = None
    if len(files) == 1 and sniff_file(files[0]) == "csg":
        group = read_result_group(files[0])
        files = group.files()
    metadata = read_cryosparc_metadata(files[0], partners=files[1:], group=group)
    file = files[0]
    project = Path(project_dir).expanduser() if project_dir else infer_project_dir(file)
    details: dict[str, Any] = {"project_dir": str(project) if project else None}
    if group is not None:
        details["group"] = str(group.path.resolve())
    return ReadResult(
        mode="cryosparc_indexed",
        metadata=metadata,
        metadata_files=((group.path,) if group else ()) + tuple(files),
        search_dirs=relative_search_dirs(project, file),
        details=details,
    )


def read_cryosparc_metadata(
    path: str | Path,
    *,
    need_blob: bool = True,
    partners: Sequence[Path] = (),
    group: ResultGroup | None = None,
) -> ParticleMetadata:
    """Read a CryoSPARC ``.cs`` file into :class:`ParticleMetadata`.

    Fields of the ``partners`` files are joined in on ``uid`` (see
    :func:`~cryolike_convert.readers.cryosparc.join.join_files`): those the main
    file lacks, or, with a ``group``, the field groups the ``.csg`` assigns to each
    file. Required ``ctf/*`` or ``blob/*`` fields still missing are taken from a
    sibling ``J<n>_passthrough_particles.cs`` or ``J<n>_particles.cs`` when one
    exists.

    Parameters
    ----------
    path
        The (main) ``.cs`` file.
    need_blob
        Require ``blob/path`` and ``blob/idx`` (indexed mode).
    partners
        Further ``.cs`` files of the same particles.
    group
        The ``.csg`` result group naming ``path`` and ``partners``.

    Raises
    ------
    MissingFieldError
        Naming the file and every missing field.
    InvalidFieldError
        For a non-finite CTF value or a negative ``blob/idx``, naming the row.
    MetadataError
        If a ``.cs`` file holds another number of rows than its ``.csg`` says, or
        a row finds no partner.
    InputFileError
        If a file is not a readable ``.cs`` file.
    """
    file = Path(path).expanduser()
    table = _checked_table(file, group)
    if partners:
        table = join_files(
            file,
            table,
            [
                (
                    partner,
                    _checked_table(partner, group),
                    None if group is None else _group_fields(partner, group),
                )
                for partner in partners
            ],
        )
    required = list(CTF_FIELDS) + (list(BLOB_FIELDS) if need_blob else [])
    missing = [name for name in required if name not in (table.dtype.names or ())]
    if missing:
        table = join_sibling(file, table, missing)
    if len(table) == 0:
        raise MetadataError(f"{file}: holds no particles (0 rows)", path=file)
    return _to_metadata(file, table, need_blob)


def _check_field_types(file: Path, table: np.ndarray, need_blob: bool) -> None:
    kinds = {
        **dict.fromkeys(CTF_FIELDS, NUMBER_KINDS),
        "blob/psize_A": NUMBER_KINDS,
        "blob/sign": NUMBER_KINDS,
        "uid": INTEGER_KINDS,
    }
    if need_blob:
        kinds.update({"blob/path": TEXT_KINDS, "blob/idx": INTEGER_KINDS})
    names = set(table.dtype.names or ())
    for field, allowed in kinds.items():
        if field in names:
            check_field_type(file, table, field, allowed)


def _checked_table(file: Path, group: ResultGroup | None) -> np.ndarray:
    table = load_cs_table(file)
    if group is None:
        return table
    expected = group.num_items.get(file)
    if expected is not None and expected != len(table):
        raise MetadataError(
            f"{file}: holds {len(table)} rows but {group.path.name} says "
            f"{expected}; the .csg and its .cs files are from different results",
            path=file,
        )
    return table


def _group_fields(file: Path, group: ResultGroup) -> list[str]:
    table = load_cs_table(file)
    slots = set(group.slots_of(file))
    return [name for name in table.dtype.names or () if name.split("/", 1)[0] in slots]


def _to_metadata(file: Path, table: np.ndarray, need_blob: bool) -> ParticleMetadata:
    n_rows = len(table)
    _check_field_types(file, table, need_blob)
    columns: dict[str, Any] = {}
    for field, column in CTF_FIELDS.items():
        values = np.array(table[field])
        _check_finite(file, table, field, values)
        columns[column] = values
    for field, column in OPTIONAL_FIELDS.items():
        if field in (table.dtype.names or ()):
            columns[column] = np.array(table[field])
    if need_blob:
        stored_path = np.array(table["blob/path"])
        stored_index = np.array(table["blob/idx"])
        if stored_index.dtype.kind not in "iu":
            raise InvalidFieldError(
                f"{file}: blob/idx is {stored_index.dtype}; expected integers",
                path=file,
                field="blob/idx",
            )
        negative = np.flatnonzero(stored_index < 0)
        if negative.size:
            row = int(negative[0])
            raise InvalidFieldError(
                f"{file}: row {row}{_uid_text(table, row)} — blob/idx is {stored_index[row]}; "
                f"expected a 0-based image index ≥ 0 ({negative.size} row(s) affected)",
                path=file,
                row=row,
                field="blob/idx",
                value=int(stored_index[row]),
            )
    else:
        stored_path = np.full(n_rows, "", dtype="<U1")
        stored_index = np.arange(n_rows, dtype=np.int64)
    return ParticleMetadata(
        source_path=file,
        source_row=np.arange(n_rows, dtype=np.int64),
        stored_path=stored_path,
        stored_index=stored_index,
        stack_index=stored_index.astype(np.int64),
        field_labels=FIELD_LABELS,
        **columns,
    )


def _uid_text(table: np.ndarray, row: int) -> str:
    if "uid" in (table.dtype.names or ()):
        return f" (uid {int(table['uid'][row])})"
    return ""


def _check_finite(
    file: Path, table: np.ndarray, field: str, values: np.ndarray
) -> None:
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        row = int(bad[0])
        raise InvalidFieldError(
            f"{file}: row {row}{_uid_text(table, row)} — {field} is {values[row]}; expected "
            f"a finite number ({bad.size} row(s) affected). Fix or remove these rows.",
            path=file,
            row=row,
            field=field,
            value=float(values[row]),
        )


__all__ = [
    "CTF_FIELDS",
    "FIELD_LABELS",
    "read_cryosparc_metadata",
    "read_indexed_cryosparc",
]
