"""Reading ``.npz`` files without unpickling, and writing them byte-reproducibly."""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

import numpy as np

#: Marker for a member whose dtype is ``object``: it is never loaded (that would
#: unpickle it), only recognised.
OBJECT_MEMBER = object()

_FIXED_DATE = (1980, 1, 1, 0, 0, 0)
#: What reading a corrupt member raises (bad CRC, broken deflate stream, cut short,
#: unknown compression); ``OSError`` is left out: ``error`` may be one.
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError)


def read_npz_safely(
    path: Path,
    keys: set[str] | None = None,
    *,
    error: Callable[[str], Exception] = ValueError,
) -> dict[str, object]:
    """Read the members of an ``.npz`` file without ever unpickling anything.

    Parameters
    ----------
    path
        The ``.npz`` file.
    keys
        Only these members are read (all when ``None``).
    error
        The exception class raised (with a message naming the file), so that
        callers choose their own error type; this module imports nothing of ours.

    Returns
    -------
    dict
        Member name (without ``.npy``) to ``np.ndarray``; members of object dtype
        map to :data:`OBJECT_MEMBER` and are not read.

    Raises
    ------
    Exception
        ``error(message)`` if the file is missing, is not a readable npz archive,
        or holds a damaged member.
    """
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError as err:
        raise error(f"{path}: file not found") from err
    except (zipfile.BadZipFile, OSError) as err:
        raise error(f"{path}: not a readable .npz archive ({err})") from err
    out: dict[str, object] = {}
    with archive:
        for name in archive.namelist():
            key = name[:-4] if name.endswith(".npy") else name
            if keys is not None and key not in keys:
                continue
            try:
                with archive.open(name) as member:
                    out[key] = _read_member(path, key, member, error)
            except _DAMAGED as err:
                raise error(f"{path}: member {key!r} is damaged ({err})") from err
    return out


def _read_member(
    path: Path, key: str, member: IO[bytes], error: Callable[[str], Exception]
) -> object:
    try:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            _, _, dtype = np.lib.format.read_array_header_1_0(member)
        else:
            _, _, dtype = np.lib.format.read_array_header_2_0(member)
    except ValueError as err:
        raise error(f"{path}: member {key!r} is not a .npy array ({err})") from err
    if dtype.hasobject:
        return OBJECT_MEMBER
    member.seek(0)
    data = member.read()
    try:
        return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
    except ValueError as err:
        raise error(f"{path}: member {key!r} cannot be read ({err})") from err


def write_npz(target: IO[bytes], arrays: Mapping[str, np.ndarray]) -> None:
    """Write arrays as a compressed ``.npz`` whose bytes depend only on the data.

    Unlike ``np.savez_compressed`` no time stamp is stored, so writing the same
    arrays twice gives identical files. ``None`` values must already be 0-d object
    arrays (as CryoLike writes them).
    """
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, value in arrays.items():
            buffer = io.BytesIO()
            array = np.asanyarray(value)
            # Only CryoLike's 0-d None is ever pickled; any other object array fails.
            is_none = (
                array.dtype.hasobject and array.shape == () and array.item() is None
            )
            np.lib.format.write_array(buffer, array, allow_pickle=is_none)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            archive.writestr(info, buffer.getvalue())


def none_array() -> np.ndarray:
    """Return CryoLike's on-disk form of ``None``: a 0-d object array."""
    return np.array(None, dtype=object)
