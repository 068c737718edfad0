"""Streaming ``.pt`` writer: the file ``torch.save`` writes for one tensor, block by block.

``torch.save`` needs the whole tensor in memory; a stack of 1024 images at 256 px is
over 1 GB. :class:`TensorFileWriter` writes the same zip layout (``archive/data/0``
holding the raw storage, ``archive/data.pkl`` rebuilding the tensor with
``torch._utils._rebuild_tensor_v2``) while the rows arrive, so memory stays at one
block. The result loads with ``torch.load(path, weights_only=True)`` (also with
``mmap=True``: the storage starts on a 64-byte boundary).

The layout is torch's (zip format version 3), written here rather than through a
torch API: ``torch.serialization.skip_data`` would let ``torch.save`` lay the file out,
but it is a prototype "subject to change", leaves the zip CRC of the storage wrong
and cannot stream to a pipe. So the declared torch floor is the version the test
suite runs on, where ``tests/formats/test_tensorfile.py`` checks the records against
``torch.save`` and loads the files with ``torch.load``.
"""

from __future__ import annotations

import collections
import contextlib
import io
import pickle
import zipfile
from types import TracebackType
from typing import IO, Any, Protocol, cast

import numpy as np
import torch

_FIXED_DATE = (1980, 1, 1, 0, 0, 0)
_STORAGE_TYPES: dict[np.dtype[Any], Any] = {
    np.dtype(np.float32): torch.FloatStorage,
    np.dtype(np.float64): torch.DoubleStorage,
    np.dtype(np.complex64): torch.ComplexFloatStorage,
    np.dtype(np.complex128): torch.ComplexDoubleStorage,
}


class _StorageReference:
    """Stands for the tensor's storage in the pickle (a persistent id)."""


class _TensorRecipe:
    """Pickles as CryoLike's loader expects: ``_rebuild_tensor_v2(storage, ...)``."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape
        strides = np.cumprod((1, *shape[:0:-1]))[::-1]
        self.stride = tuple(int(s) for s in strides)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        rebuild = torch._utils._rebuild_tensor_v2
        arguments: tuple[Any, ...] = (
            _REFERENCE,
            0,
            self.shape,
            self.stride,
            False,
            collections.OrderedDict(),
        )
        return rebuild, arguments


_REFERENCE = _StorageReference()


def tensor_pickle(dtype: np.dtype[Any], shape: tuple[int, ...]) -> bytes:
    """The ``data.pkl`` record ``torch.save`` writes for a contiguous CPU tensor."""
    storage_type = _STORAGE_TYPES[np.dtype(dtype)]
    numel = int(np.prod(shape))

    class _Pickler(pickle.Pickler):
        def persistent_id(self, obj: object) -> object:
            if obj is _REFERENCE:
                return ("storage", storage_type, "0", "cpu", numel)
            return None

    buffer = io.BytesIO()
    _Pickler(buffer, protocol=2).dump(_TensorRecipe(shape))
    return buffer.getvalue()


class BinaryWriter(Protocol):
    """Anything with ``write(bytes)``, like an open binary file."""

    def write(self, data: bytes, /) -> int:
        """Write ``data``; return the number of bytes written."""
        ...


class _Sink:
    """Forwards writes to a handle until abandoned, then swallows them."""

    def __init__(self, handle: BinaryWriter) -> None:
        self.handle: BinaryWriter | None = handle

    def write(self, data: bytes) -> int:
        if self.handle is not None:
            self.handle.write(data)
        return len(data)

    def flush(self) -> None:
        """Nothing is buffered here."""


class TensorFileWriter:
    """Write an ``(n, *row_shape)`` tensor file row block by row block.

    Use it as a context manager: leaving the block normally finishes the file;
    leaving it with an exception abandons it (nothing more is written).

    Parameters
    ----------
    handle
        A binary file object (it need not be seekable).
    dtype
        float32, float64, complex64 or complex128.
    row_shape
        Shape of one row (e.g. ``(n_shells, n_inplanes)``).
    """

    def __init__(
        self, handle: BinaryWriter, dtype: np.dtype[Any], row_shape: tuple[int, ...]
    ) -> None:
        self.dtype = np.dtype(dtype)
        if self.dtype not in _STORAGE_TYPES:
            raise ValueError(f"cannot write tensors of dtype {self.dtype}")
        self.row_shape = tuple(int(n) for n in row_shape)
        self.n_rows = 0
        self._sink = _Sink(handle)
        target = cast(IO[bytes], self._sink)
        self._archive = zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED)
        info = zipfile.ZipInfo("archive/data/0", date_time=_FIXED_DATE)
        try:
            self._stream = self._archive.open(info, "w", force_zip64=True)
        except BaseException:
            # Left open, the archive would write its directory when collected.
            self._sink.handle = None
            with contextlib.suppress(OSError, ValueError):
                self._archive.close()
            raise

    def append(self, rows: np.ndarray) -> None:
        """Append rows of shape ``(k, *row_shape)`` and this writer's dtype."""
        if rows.dtype != self.dtype or tuple(rows.shape[1:]) != self.row_shape:
            raise ValueError(
                f"rows are {rows.dtype} {rows.shape[1:]}; expected {self.dtype} "
                f"{self.row_shape}"
            )
        self._stream.write(np.ascontiguousarray(rows).data.cast("B"))
        self.n_rows += len(rows)

    def close(self) -> None:
        """Finish the storage record and write the records that describe it."""
        self._stream.close()
        shape = (self.n_rows, *self.row_shape)
        records = {
            "archive/data.pkl": tensor_pickle(self.dtype, shape),
            "archive/byteorder": b"little",
            "archive/version": b"3\n",
        }
        for name, data in records.items():
            self._archive.writestr(zipfile.ZipInfo(name, date_time=_FIXED_DATE), data)
        self._archive.close()

    def abandon(self) -> None:
        """Stop writing to the handle; the file stays incomplete."""
        self._sink.handle = None
        # The zip state may be broken by the error that stopped us: nothing to save.
        for finish in (self._stream.close, self._archive.close):
            with contextlib.suppress(OSError, ValueError):
                finish()

    def __enter__(self) -> TensorFileWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is not None:
            self.abandon()
            return
        try:
            self.close()
        except BaseException:
            self.abandon()
            raise
