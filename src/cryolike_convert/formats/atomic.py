"""Atomic file writes (temporary name, fsync, rename), checksummed as they stream.

A failed write raises :class:`AtomicWriteError` (an ``OSError``), which the callers
turn into their own error type. Checksums are :mod:`.checksum`'s.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from cryolike_convert.formats.checksum import labelled, new_hasher

_TEMPORARY = re.compile(r"^\..+\.\d+\.tmp$")


class AtomicWriteError(OSError):
    """A file could not be written; ``cause`` is the underlying OS error."""

    def __init__(self, path: Path, cause: OSError) -> None:
        super().__init__(cause.errno, cause.strerror or str(cause), str(path))
        self.path = path
        self.cause = cause

    def describe(self) -> str:
        """``<path>: cannot be written (<reason>)``."""
        return f"{self.path}: cannot be written ({self.cause.strerror or self.cause})"


class HashingWriter:
    """A binary file wrapper that checksums what is written through it, as it streams."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self.digest = new_hasher()
        self.error: OSError | None = None

    def checksum(self) -> str:
        """The recorded form (``"xxh3_128:<hex>"``) of everything written so far."""
        return labelled(self.digest)

    def write(self, data: bytes) -> int:
        """Hash ``data`` and write it; an OS error is remembered, then raised."""
        self.digest.update(data)
        try:
            return self._handle.write(data)
        except OSError as err:
            # Remembered: torch.save turns it into a RuntimeError without context.
            self.error = err
            raise

    def flush(self) -> None:
        """Flush the underlying file."""
        self._handle.flush()


def temporary_name(path: Path) -> Path:
    """The hidden temporary name ``path`` is written under (``.NAME.PID.tmp``)."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def is_temporary(path: Path) -> bool:
    """Whether ``path`` is a temporary file left by :func:`atomic_file`."""
    return bool(_TEMPORARY.match(path.name))


@contextmanager
def atomic_file(path: Path) -> Iterator[HashingWriter]:
    """Write ``path`` through a temporary file in the same folder, fsync, then rename.

    The data are fsynced once, when the block ends (not per write), then the file
    is renamed and its folder fsynced: after a crash or power loss ``path`` is either
    absent or complete. An interrupted write leaves only a ``.tmp`` file that no
    reader picks up (a resumed run removes it). The block may end on another thread
    than the one that entered it (a stack is finished in the background).

    Raises
    ------
    AtomicWriteError
        If the file cannot be written (disk full, permission denied, ...); nothing
        is left under ``path`` or the temporary name.
    """
    temporary = temporary_name(path)
    writer: HashingWriter | None = None
    try:
        with open(temporary, "wb") as handle:
            writer = HashingWriter(handle)
            yield writer
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException as err:
        temporary.unlink(missing_ok=True)
        cause = writer.error if writer is not None and writer.error else err
        if isinstance(cause, OSError) and not isinstance(cause, AtomicWriteError):
            raise AtomicWriteError(path, cause) from cause
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def write_atomic(path: Path, write: Callable[[IO[bytes]], None]) -> str:
    """Write a file atomically with ``write(handle)``; return its recorded checksum.

    Raises
    ------
    AtomicWriteError
        As :func:`atomic_file`.
    """
    with atomic_file(path) as writer:
        write(writer)  # type: ignore[arg-type]
    return writer.checksum()


__all__ = [
    "AtomicWriteError",
    "HashingWriter",
    "atomic_file",
    "is_temporary",
    "temporary_name",
    "write_atomic",
]
