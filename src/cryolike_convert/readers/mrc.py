"""Reading particle images from MRC stacks through ``mrcfile`` memory mapping."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import mrcfile
import numpy as np

from cryolike_convert.errors import ImageStackError, InputFileError

_SUPPORTED_DTYPES = {"int8", "int16", "uint16", "float32", "float16", "uint8"}


@dataclass(frozen=True, slots=True)
class StackInfo:
    """What the header of one MRC stack says.

    Attributes
    ----------
    path
        The file.
    n_images
        Number of images (``nz``; 1 for a 2-D file).
    shape
        ``(n_rows, n_cols)`` of each image (MRC ``ny, nx``).
    voxel_size_angstrom
        Header pixel size along x (0 when unset).
    warnings
        Oddities tolerated while reading the header (permissive mode).
    """

    path: Path
    n_images: int
    shape: tuple[int, int]
    voxel_size_angstrom: float
    permissive: bool
    warnings: tuple[str, ...] = ()


def _open(path: Path, permissive: bool, header_only: bool) -> mrcfile.mrcfile.MrcFile:
    if header_only:
        return mrcfile.open(path, mode="r", header_only=True, permissive=permissive)
    return mrcfile.mmap(path, mode="r", permissive=permissive)


def inspect_stack(path: str | Path) -> StackInfo:
    """Read and check the header of an MRC stack.

    Files without the ``MAP `` id or machine stamp are read permissively and the
    oddity is recorded in :attr:`StackInfo.warnings`.

    Raises
    ------
    InputFileError
        If the file cannot be opened or is not an MRC file.
    ImageStackError
        If the mode is unsupported or the file is shorter than its header says.
    """
    file = Path(path)
    permissive = False
    caught: list[str] = []
    try:
        mrc = _open(file, permissive=False, header_only=True)
    except PermissionError as err:
        raise InputFileError(f"{file}: cannot be read (permission denied)") from err
    except (ValueError, OSError):
        permissive = True
        with warnings.catch_warnings(record=True) as recorded:
            warnings.simplefilter("always")
            try:
                mrc = _open(file, permissive=True, header_only=True)
            except (ValueError, OSError) as err:
                raise InputFileError(
                    f"{file}: not a readable MRC file ({err})"
                ) from err
        caught = [str(item.message) for item in recorded]
    with mrc:
        header = mrc.header
        try:
            dtype = mrcfile.utils.data_dtype_from_header(header)
        except ValueError as err:
            raise ImageStackError(
                f"{file}: unsupported MRC mode {int(header.mode)}; expected 0, 1, 2, 6 or 12"
            ) from err
        nx, ny, nz = int(header.nx), int(header.ny), int(header.nz)
        data_offset = int(header.nbytes) + int(header.nsymbt)
        voxel = float(mrc.voxel_size.x)
    if dtype.name not in _SUPPORTED_DTYPES or dtype.kind == "c":
        raise ImageStackError(
            f"{file}: MRC data type {dtype} (mode {int(header.mode)}) is not an image "
            "type cryolike reads; expected modes 0, 1, 2, 6 or 12"
        )
    if nx <= 0 or ny <= 0 or nz <= 0:
        raise ImageStackError(
            f"{file}: header says {nx}×{ny}×{nz} pixels; expected > 0"
        )
    expected = data_offset + nx * ny * nz * dtype.itemsize
    actual = os.path.getsize(file)
    if actual < expected:
        raise ImageStackError(
            f"{file}: truncated: {actual} bytes on disk, the header needs {expected} "
            f"({nz} images of {ny}×{nx}, {dtype}). Re-copy or re-export the stack."
        )
    return StackInfo(file, nz, (ny, nx), voxel, permissive, tuple(caught))


def read_images(
    path: str | Path, indices: np.ndarray, permissive: bool = False
) -> np.ndarray:
    """Read images by 0-based index as float32, shape ``(len(indices), ny, nx)``.

    The indices are read in ascending order from a memory map (only the pages of
    the wanted images are touched) and returned in the order asked for.

    Raises
    ------
    InputFileError
        If the file cannot be opened.
    """
    file = Path(path)
    order = np.argsort(indices, kind="stable")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mrc = mrcfile.mmap(file, mode="r", permissive=permissive)
    except (ValueError, OSError) as err:
        raise InputFileError(f"{file}: cannot be read as MRC ({err})") from err
    with mrc:
        data = mrc.data
        if data is None:
            raise InputFileError(f"{file}: holds no image data")
        if data.ndim == 2:
            data = data[np.newaxis]
        wanted = np.asarray(indices)[order]
        if len(wanted) and wanted[-1] - wanted[0] + 1 == len(wanted):
            block = np.asarray(data[wanted[0] : wanted[-1] + 1], dtype=np.float32)
        else:
            block = np.asarray(data[wanted], dtype=np.float32)
    out = np.empty_like(block)
    out[order] = block
    return out
