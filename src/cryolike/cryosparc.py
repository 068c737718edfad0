"""CryoSPARC ``.cs`` files → ParticleMetadata (numpy, never unpickling)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from .errors import (
    InputFileError,
    InvalidFieldError,
    MetadataError,
    MissingDependencyError,
    MissingFieldError,
)
from .metadata import ParticleMetadata

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
_NPY_MAGIC = b"\x93NUMPY"
_CSDAT_MAGIC = b"\x95CSDAT"
_MAX_HEADER_BYTES = 1 << 30
_JOB_FILE = re.compile(r"^(J\d+)_")


def load_cs_table(path: Path) -> np.ndarray:
    """Load a ``.cs`` file as a 1-D structured numpy array.

    Plain npy files are memory-mapped with ``allow_pickle=False`` and any header
    size; CryoSPARC's compressed CSDAT container is read through the optional
    ``cryosparc-tools`` package.

    Raises
    ------
    InputFileError
        If the file is missing, empty, or not a ``.cs`` (npy or CSDAT) file.
    MissingDependencyError
        For a CSDAT file when ``cryosparc-tools`` is not installed.
    """
    try:
        with open(path, "rb") as handle:
            magic = handle.read(6)
    except FileNotFoundError as err:
        raise InputFileError(f"{path}: file not found") from err
    except OSError as err:
        raise InputFileError(f"{path}: cannot be read ({err.strerror})") from err
    if magic == _CSDAT_MAGIC:
        return _load_csdat(path)
    if magic != _NPY_MAGIC:
        what = "is empty" if not magic else f"starts with {magic!r}"
        raise InputFileError(
            f"{path}: not a CryoSPARC .cs file ({what}); expected a numpy .npy "
            "structured array as CryoSPARC writes. Check that the file is not a "
            "Git-LFS pointer, an HTML page or a text export."
        )
    try:
        table = np.load(
            path, mmap_mode="r", allow_pickle=False, max_header_size=_MAX_HEADER_BYTES
        )
    except ValueError as err:
        raise InputFileError(
            f"{path}: cannot be read as a .cs table ({err}); cryolike never unpickles "
            "input, so columns of Python objects are refused."
        ) from err
    except OSError as err:
        raise InputFileError(
            f"{path}: truncated or unreadable .npy data ({err})"
        ) from err
    if table.dtype.names is None or table.ndim != 1:
        raise InputFileError(
            f"{path}: holds a {table.dtype} array of shape {table.shape}; expected a 1-D "
            "structured array with named fields (ctf/df1_A, blob/path, ...)."
        )
    result: np.ndarray = table
    return result


def _load_csdat(path: Path) -> np.ndarray:
    try:
        from cryosparc.dataset import Dataset
    except ImportError as err:
        raise MissingDependencyError(
            f"{path}: is a compressed CryoSPARC dataset (CSDAT); reading it needs "
            "cryosparc-tools: pip install 'cryolike[cryosparc]'"
        ) from err
    try:
        records: np.ndarray = Dataset.load(str(path)).to_records(fixed=True)
    except Exception as err:
        raise InputFileError(
            f"{path}: cannot be read as a CSDAT dataset ({err})"
        ) from err
    return records


def read_cryosparc_metadata(
    path: str | Path, *, need_blob: bool = True
) -> ParticleMetadata:
    """Read a CryoSPARC ``.cs`` file into :class:`ParticleMetadata`.

    Missing ``ctf/*`` or ``blob/*`` fields are taken from a sibling
    ``J<n>_passthrough_particles.cs`` or ``J<n>_particles.cs`` when one exists,
    joined on ``uid``.

    Parameters
    ----------
    path
        The ``.cs`` file.
    need_blob
        Require ``blob/path`` and ``blob/idx`` (indexed mode).

    Raises
    ------
    MissingFieldError
        Naming the file and every missing field.
    InvalidFieldError
        For a non-finite CTF value or a negative ``blob/idx``, naming the row.
    InputFileError
        If the file is not a readable ``.cs`` file.
    """
    file = Path(path).expanduser()
    table = load_cs_table(file)
    required = list(CTF_FIELDS) + (list(BLOB_FIELDS) if need_blob else [])
    missing = [name for name in required if name not in (table.dtype.names or ())]
    if missing:
        table = _join_sibling(file, table, missing)
    if len(table) == 0:
        raise MetadataError(f"{file}: holds no particles (0 rows)", path=file)
    return _to_metadata(file, table, need_blob)


def _to_metadata(file: Path, table: np.ndarray, need_blob: bool) -> ParticleMetadata:
    n_rows = len(table)
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


def _sibling_candidates(file: Path) -> list[Path]:
    match = _JOB_FILE.match(file.name)
    if not match:
        return []
    job = match.group(1)
    names = [f"{job}_passthrough_particles.cs", f"{job}_particles.cs"]
    return [file.with_name(name) for name in names if name != file.name]


def _join_sibling(file: Path, table: np.ndarray, missing: list[str]) -> np.ndarray:
    for sibling in _sibling_candidates(file):
        if not sibling.is_file():
            continue
        partner = load_cs_table(sibling)
        names = partner.dtype.names or ()
        if all(name in names for name in missing):
            return join_on_uid(file, table, sibling, partner, missing)
    looked = (
        ", ".join(str(p) for p in _sibling_candidates(file))
        or "none (name has no J<n>_)"
    )
    raise MissingFieldError(
        f"{file}: missing field(s) {', '.join(missing)}; no sibling file provides them "
        f"(looked for: {looked}). Use the job's particles file that has ctf/* and blob/*.",
        path=file,
        field=missing[0],
    )


def _check_unique_uid(file: Path, uid: np.ndarray, sibling: Path) -> None:
    _, first = np.unique(uid, return_index=True)
    if first.size == uid.size:
        return
    repeated = np.ones(uid.size, dtype=bool)
    repeated[first] = False
    row = int(np.flatnonzero(repeated)[0])
    earlier = int(np.flatnonzero(uid == uid[row])[0])
    raise MetadataError(
        f"{file}: row {row} (uid {int(uid[row])}) — uid appears more than once (first at "
        f"row {earlier}; {int(repeated.sum())} duplicate(s)); cannot join with "
        f"{sibling.name} on uid",
        path=file,
        row=row,
        field="uid",
        value=int(uid[row]),
    )


def join_on_uid(
    file: Path, table: np.ndarray, sibling: Path, partner: np.ndarray, fields: list[str]
) -> np.ndarray:
    """Add ``fields`` of ``partner`` to ``table``, matching rows by ``uid``.

    Every row of ``table`` must find exactly one partner row.

    Raises
    ------
    MissingFieldError
        If either file lacks ``uid``.
    MetadataError
        On duplicate uids in either file or rows without a partner.
    """
    for owner, source in ((file, table), (sibling, partner)):
        if "uid" not in (source.dtype.names or ()):
            raise MissingFieldError(
                f"{owner}: has no uid field, so it cannot be joined with its sibling file",
                path=owner,
                field="uid",
            )
    partner_uid = np.asarray(partner["uid"])
    order = np.argsort(partner_uid, kind="stable")
    sorted_uid = partner_uid[order]
    duplicates = sorted_uid[1:][sorted_uid[1:] == sorted_uid[:-1]]
    if duplicates.size:
        raise MetadataError(
            f"{sibling}: uid {int(duplicates[0])} appears more than once "
            f"({duplicates.size} duplicate(s)); cannot join with {file.name} on uid",
            path=sibling,
            field="uid",
            value=int(duplicates[0]),
        )
    uid = np.asarray(table["uid"])
    _check_unique_uid(file, uid, sibling)
    found = np.searchsorted(sorted_uid, uid).clip(0, max(len(sorted_uid) - 1, 0))
    matched = (
        (sorted_uid[found] == uid) if len(sorted_uid) else np.zeros(len(uid), bool)
    )
    if not matched.all():
        row = int(np.flatnonzero(~matched)[0])
        raise MetadataError(
            f"{file}: row {row} (uid {int(uid[row])}) has no partner in {sibling.name} "
            f"({int((~matched).sum())} unmatched row(s)); both files must list the same "
            "particles",
            path=file,
            row=row,
            field="uid",
            value=int(uid[row]),
        )
    partner_rows = order[found]
    descr = [(name, table.dtype.fields[name][0]) for name in table.dtype.names or ()]  # type: ignore[index]
    descr += [(name, partner.dtype.fields[name][0]) for name in fields]  # type: ignore[index]
    joined = np.empty(len(table), dtype=descr)
    for name in table.dtype.names or ():
        joined[name] = table[name]
    for name in fields:
        joined[name] = partner[name][partner_rows]
    return joined


__all__ = ["CTF_FIELDS", "join_on_uid", "load_cs_table", "read_cryosparc_metadata"]
