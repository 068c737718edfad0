"""Selecting a subset of particles by row index (``ind``) or by ``uid`` (``uids``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from cryolike_convert.errors import InputFileError, MetadataError, spelled
from cryolike_convert.metadata import ParticleMetadata

#: A selection: a file of numbers (``.npy`` or text), or the numbers themselves.
SelectionInput = str | os.PathLike[str] | Sequence[int] | np.ndarray
_NPY_MAGIC = b"\x93NUMPY"
#: Values named in an error before the rest is counted.
_LISTED = 10


@dataclass(frozen=True, slots=True)
class Selection:
    """Which particles a run converts, and which it leaves out on purpose.

    Attributes
    ----------
    kind
        ``'ind'`` (row numbers) or ``'uids'``.
    file
        The file the numbers came from, or ``None`` when they were given directly.
    n_rows
        Rows of the input before the selection.
    unselected_rows
        ``source_row`` of every row left out, in input order.
    """

    kind: Literal["ind", "uids"]
    file: Path | None
    n_rows: int
    unselected_rows: np.ndarray


def read_number_file(path: str | os.PathLike[str], dtype: type) -> np.ndarray:
    """Integers from a ``.npy`` file (never unpickled) or a text file.

    Text files hold integers separated by white space or commas; ``#`` starts a
    comment.

    Parameters
    ----------
    path
        The file.
    dtype
        ``np.int64`` (row numbers) or ``np.uint64`` (uids).

    Returns
    -------
    np.ndarray
        1-D array of ``dtype``.

    Raises
    ------
    InputFileError
        If the file cannot be read, holds a non-integer array or a word that is
        not an integer (naming the line).
    """
    file = Path(path).expanduser()
    try:
        with open(file, "rb") as handle:
            magic = handle.read(len(_NPY_MAGIC))
    except OSError as err:
        raise InputFileError(f"{file}: cannot be read ({err.strerror})") from err
    if magic == _NPY_MAGIC:
        return _read_npy(file, dtype)
    values: list[int] = []
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise InputFileError(
            f"{file}: neither a .npy array nor a text file of integers ({err})"
        ) from err
    for number, line in enumerate(lines, start=1):
        for word in line.split("#", 1)[0].replace(",", " ").split():
            try:
                values.append(int(word))
            except ValueError as err:
                raise InputFileError(
                    f"{file}: line {number} holds {word!r}; expected integers "
                    "separated by spaces, commas or new lines"
                ) from err
    return _as_integers(file, np.array(values, dtype=object), dtype)


def _read_npy(file: Path, dtype: type) -> np.ndarray:
    try:
        array = np.load(file, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise InputFileError(
            f"{file}: cannot be read as a .npy array of integers ({err}); cryolike "
            "never unpickles input"
        ) from err
    if array.dtype.kind not in "iu":
        raise InputFileError(f"{file}: holds a {array.dtype} array; expected integers")
    return _as_integers(file, array.reshape(-1), dtype)


def _as_integers(file: Path, values: np.ndarray, dtype: type) -> np.ndarray:
    info = np.iinfo(dtype)
    if values.dtype.kind in "iu":
        if values.dtype.kind == "i" and info.min == 0:
            bad = values[values < 0]
        elif values.dtype.kind == "u" and values.dtype.itemsize >= 8 and info.min < 0:
            bad = values[values > info.max]
        else:
            bad = values[:0]
    else:  # Python integers parsed from text
        bad = np.array(
            [v for v in values.tolist() if not info.min <= v <= info.max], dtype=object
        )
    if bad.size:
        what = "uid" if dtype is np.uint64 else "row number"
        raise InputFileError(
            f"{file}: {bad[0]} is not a valid {what} ({bad.size} such value(s))"
        )
    if values.dtype == object:
        return np.array(values.tolist(), dtype=dtype).reshape(-1)
    return values.astype(dtype).reshape(-1)


def _numbers(value: SelectionInput, dtype: type) -> tuple[np.ndarray, Path | None]:
    if isinstance(value, (str, os.PathLike)):
        return read_number_file(value, dtype), Path(value).expanduser()
    array = np.asarray(value)
    if array.size and array.dtype.kind not in "iu":
        raise MetadataError(f"a selection must hold integers; got {array.dtype}")
    return _as_integers(Path("<given>"), array.reshape(-1), dtype), None


def _listed(values: np.ndarray) -> str:
    shown = ", ".join(str(int(v)) for v in values[:_LISTED])
    return shown + (f", … ({values.size} in all)" if values.size > _LISTED else "")


def select_particles(
    metadata: ParticleMetadata,
    *,
    ind: SelectionInput | None = None,
    uids: SelectionInput | None = None,
) -> tuple[ParticleMetadata, Selection | None]:
    """Keep the rows named by ``ind`` (``source_row`` numbers) or ``uids``.

    The kept rows stay in input order. Every number must name a row, once.

    Parameters
    ----------
    metadata
        The particles read from the input.
    ind
        Row numbers: a ``.npy`` or text file, or a sequence.
    uids
        ``uid`` values: a ``.npy`` or text file, or a sequence.

    Returns
    -------
    tuple
        The selected particles, and the :class:`Selection` (``None`` when
        neither ``ind`` nor ``uids`` was given).

    Raises
    ------
    MetadataError
        If both are given, the input has no ``uid`` for ``uids``, a number
        appears twice or names no row (listing them), or nothing is selected.
    InputFileError
        If a selection file cannot be read.
    """
    if ind is None and uids is None:
        return metadata, None
    if ind is not None and uids is not None:
        raise MetadataError(
            f"give {spelled('ind', '--ind')} or {spelled('uids', '--uids')}, not both"
        )
    kind: Literal["ind", "uids"] = "ind" if ind is not None else "uids"
    wanted, file = _numbers(
        ind if ind is not None else uids,  # type: ignore[arg-type]
        np.int64 if kind == "ind" else np.uint64,
    )
    column = metadata.source_row if kind == "ind" else metadata.uid
    if column is None:
        raise MetadataError(
            f"{metadata.source_path}: has no uid, so particles cannot be selected by "
            f"uid; select them by row with {spelled('ind', '--ind')}",
            path=metadata.source_path,
            field="uid",
        )
    where = f" in {file}" if file else ""
    unique, counts = np.unique(wanted, return_counts=True)
    if (counts > 1).any():
        raise MetadataError(
            f"{kind}{where}: {_listed(unique[counts > 1])} appear(s) more than once; "
            "list each particle once",
            path=metadata.source_path,
        )
    keep = np.isin(column, unique)
    unknown = np.setdiff1d(unique, column[keep])
    if unknown.size:
        what = "row number" if kind == "ind" else "uid"
        raise MetadataError(
            f"{kind}{where}: {_listed(unknown)} is not a {what} of "
            f"{metadata.source_path} ({len(metadata)} rows with an image); nothing "
            "was converted",
            path=metadata.source_path,
            field=kind,
        )
    if not keep.any():
        raise MetadataError(f"{kind}{where}: selects no particle", path=file)
    selection = Selection(
        kind, file, len(metadata), np.asarray(metadata.source_row[~keep])
    )
    return metadata.take(np.flatnonzero(keep)), selection


__all__ = ["Selection", "SelectionInput", "read_number_file", "select_particles"]
