"""Loading a CryoSPARC ``.cs`` container: npy (memory-mapped) or CSDAT (cryosparc-tools)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cryolike_convert.errors import (
    INSTALL_HINTS,
    InputFileError,
    MissingDependencyError,
)
from cryolike_convert.readers.detect import describe_mismatch

_NPY_MAGIC = b"\x93NUMPY"
_CSDAT_MAGIC = b"\x95CSDAT"
_MAX_HEADER_BYTES = 1 << 30


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
        redirect = describe_mismatch(path, "a CryoSPARC .cs file")
        raise InputFileError(
            redirect or f"{path}: cannot be read ({err.strerror})"
        ) from err
    if magic == _CSDAT_MAGIC:
        return _load_csdat(path)
    if magic != _NPY_MAGIC:
        redirect = describe_mismatch(path, "a CryoSPARC .cs file")
        if redirect is not None:
            raise InputFileError(redirect)
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
            f"cryosparc-tools: {INSTALL_HINTS['cryosparc']}"
        ) from err
    try:
        records: np.ndarray = Dataset.load(str(path)).to_records(fixed=True)
    except Exception as err:
        raise InputFileError(
            f"{path}: cannot be read as a CSDAT dataset ({err})"
        ) from err
    return records


__all__ = ["load_cs_table"]
