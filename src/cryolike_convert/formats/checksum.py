"""Checksums of output files: one algorithm, streamed while the bytes are written.

Stack files are checksummed with XXH3-128 (the ``xxhash`` package): about 10 GB/s on
one core here, against 1.8 GB/s for sha256 and 4 GB/s for ``zlib.crc32``, so that
hashing a stack as it streams to disk costs a few percent of the conversion. It is
not a cryptographic hash: it detects corruption (torn writes after a power loss, bit
rot, truncation, a file replaced by another run's), which is what resume and
``verify`` check, not tampering. A recorded checksum names its algorithm
(``"xxh3_128:<hex>"``); ``sha256:<hex>`` values are read too.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Protocol

import xxhash

#: The algorithm of newly written checksums.
ALGORITHM = "xxh3_128"
_READ_BLOCK = 4 << 20


class Hasher(Protocol):
    """A running checksum (``hashlib``'s interface)."""

    def update(self, data: bytes | memoryview, /) -> None:
        """Add ``data``."""
        ...

    def hexdigest(self) -> str:
        """The checksum of everything added, in hexadecimal."""
        ...


def new_hasher(algorithm: str = ALGORITHM) -> Hasher:
    """A running checksum of ``algorithm`` (``'xxh3_128'`` or ``'sha256'``).

    Raises
    ------
    ValueError
        For any other algorithm.
    """
    if algorithm == "xxh3_128":
        return xxhash.xxh3_128()
    if algorithm == "sha256":
        return hashlib.sha256()
    raise ValueError(f"unknown checksum algorithm {algorithm!r}")


def labelled(hasher: Hasher, algorithm: str = ALGORITHM) -> str:
    """The recorded form of a checksum: ``"<algorithm>:<hex>"``."""
    return f"{algorithm}:{hasher.hexdigest()}"


def file_checksum(path: Path, algorithm: str = ALGORITHM) -> str:
    """The recorded form of ``path``'s checksum, reading it in 4 MiB blocks."""
    hasher = new_hasher(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_READ_BLOCK), b""):
            hasher.update(block)
    return labelled(hasher, algorithm)


def matches(path: Path, recorded: object) -> bool:
    """Whether ``path`` exists and has the recorded checksum (``"<algorithm>:<hex>"``).

    A value that is not of that form, or of an unknown algorithm, never matches.
    """
    if not isinstance(recorded, str) or ":" not in recorded:
        return False
    algorithm = recorded.split(":", 1)[0]
    if algorithm not in ("xxh3_128", "sha256") or not path.is_file():
        return False
    return file_checksum(path, algorithm) == recorded


__all__ = ["ALGORITHM", "Hasher", "file_checksum", "labelled", "matches", "new_hasher"]
