"""Checksums: the recorded form names its algorithm; files are read back in blocks."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import xxhash

from cryolike_convert.formats.checksum import (
    ALGORITHM,
    file_checksum,
    labelled,
    matches,
    new_hasher,
)

BLOCK = 4 << 20


@pytest.mark.parametrize("size", [0, 1, BLOCK - 1, BLOCK, 2 * BLOCK + 5])
def test_file_checksum_is_xxh3_128_of_the_bytes(tmp_path: Path, size: int) -> None:
    payload = np.random.default_rng(size).bytes(size)
    (tmp_path / "f").write_bytes(payload)
    assert ALGORITHM == "xxh3_128"
    expected = f"xxh3_128:{xxhash.xxh3_128(payload).hexdigest()}"
    assert file_checksum(tmp_path / "f") == expected
    sha = f"sha256:{hashlib.sha256(payload).hexdigest()}"
    assert file_checksum(tmp_path / "f", "sha256") == sha


def test_streamed_checksum_equals_the_file_checksum(tmp_path: Path) -> None:
    hasher = new_hasher()
    with open(tmp_path / "f", "wb") as handle:
        for part in (b"abc", b"", b"d" * 100_000):
            hasher.update(part)
            handle.write(part)
    assert labelled(hasher) == file_checksum(tmp_path / "f")


def test_matches_catches_any_change(tmp_path: Path) -> None:
    path = tmp_path / "f"
    zeros = bytes(1000)
    path.write_bytes(zeros)
    recorded = file_checksum(path)
    legacy = "sha256:" + hashlib.sha256(zeros).hexdigest()
    assert matches(path, recorded)
    assert matches(path, legacy)
    path.write_bytes(b"\x00" * 999 + b"\x01")  # one bit
    assert not matches(path, recorded)
    assert not matches(path, legacy)
    path.write_bytes(b"\x00" * 999)  # truncated
    assert not matches(path, recorded)
    assert not matches(tmp_path / "missing", recorded)
    for malformed in (None, "", recorded.split(":")[1], "md5:" + "0" * 32):
        assert not matches(path, malformed)


def test_unknown_algorithm_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown checksum algorithm 'md5'"):
        new_hasher("md5")
