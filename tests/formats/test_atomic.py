"""Atomic writes (temporary name, rename), their failures, and streamed checksums."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import IO

import numpy as np
import pytest
import xxhash

from cryolike_convert.formats.atomic import (
    AtomicWriteError,
    HashingWriter,
    atomic_file,
    is_temporary,
    temporary_name,
    write_atomic,
)


def write_then_fail(
    target: Path, error: Exception, remembered: OSError | None = None
) -> None:
    """Write some bytes through atomic_file, then fail with ``error``."""
    with atomic_file(target) as writer:
        writer.write(b"some bytes")
        if remembered is not None:
            writer.error = remembered
        raise error


def test_temporary_name_is_hidden_next_to_the_file_and_recognised() -> None:
    path = Path("/out/fft/particles_fourier_stack_000001.pt")
    temporary = temporary_name(path)
    assert temporary.parent == path.parent
    assert temporary.name == f".particles_fourier_stack_000001.pt.{os.getpid()}.tmp"
    assert is_temporary(temporary)
    assert not is_temporary(path)


@pytest.mark.parametrize(
    ("name", "temporary"),
    [
        (".manifest.json.123.tmp", True),
        (".a.1.tmp", True),
        ("manifest.json.123.tmp", False),  # not hidden
        (".manifest.json.tmp", False),  # no pid
        (".manifest.json.12a.tmp", False),
        (".manifest.json.123.tmp.bak", False),
        (".123.tmp", False),  # no name
        ("particles_fourier_stack_000001.pt", False),
    ],
)
def test_is_temporary(name: str, temporary: bool) -> None:
    assert is_temporary(Path("/out") / name) is temporary


def test_atomic_write_writes_the_file_and_its_hash(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    payload = np.random.default_rng(2).bytes(100_000)

    def write(handle: IO[bytes]) -> None:
        for start in range(0, len(payload), 30_000):
            handle.write(payload[start : start + 30_000])

    digest = write_atomic(target, write)
    assert target.read_bytes() == payload
    assert digest == f"xxh3_128:{xxhash.xxh3_128(payload).hexdigest()}"
    assert sorted(tmp_path.iterdir()) == [target]


def test_the_file_appears_only_when_the_write_is_complete(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with atomic_file(target) as writer:
        writer.write(b"first part")
        assert not target.exists()
        assert [p.name for p in tmp_path.iterdir()] == [temporary_name(target).name]
    assert target.read_bytes() == b"first part"


def test_a_failed_write_raises_with_the_path_and_leaves_no_temporary(
    tmp_path: Path,
) -> None:
    target = tmp_path / "out.bin"
    with pytest.raises(AtomicWriteError) as caught:
        write_then_fail(target, OSError(errno.ENOSPC, "No space left on device"))
    error = caught.value
    assert error.path == target
    assert error.errno == errno.ENOSPC
    assert isinstance(error.cause, OSError)
    assert error.filename == str(target)
    assert error.describe() == f"{target}: cannot be written (No space left on device)"
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_the_previous_file_alone(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"previous")

    def write(handle: IO[bytes]) -> None:
        handle.write(b"replacement")
        raise OSError(errno.EIO, "Input/output error")

    with pytest.raises(AtomicWriteError):
        write_atomic(target, write)
    assert target.read_bytes() == b"previous"
    assert sorted(tmp_path.iterdir()) == [target]


def test_a_folder_that_does_not_exist_is_an_atomic_write_error(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "out.bin"
    with pytest.raises(AtomicWriteError) as caught, atomic_file(target):
        pass
    assert caught.value.path == target
    assert isinstance(caught.value.cause, FileNotFoundError)


def test_other_errors_pass_through_but_the_temporary_goes(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with pytest.raises(KeyError, match="not an OS error"):
        write_then_fail(target, KeyError("not an OS error"))
    assert list(tmp_path.iterdir()) == []


def test_an_os_error_hidden_by_the_writer_is_reported(tmp_path: Path) -> None:
    # torch.save turns a failed write into a RuntimeError; the writer remembers the cause.
    target = tmp_path / "out.pt"
    with pytest.raises(AtomicWriteError) as caught:
        write_then_fail(
            target,
            RuntimeError("PytorchStreamWriter failed writing file"),
            remembered=OSError(errno.EDQUOT, "Disk quota exceeded"),
        )
    assert caught.value.errno == errno.EDQUOT
    assert list(tmp_path.iterdir()) == []


class FailingHandle:
    def __init__(self) -> None:
        self.flushed = False

    def write(self, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    def flush(self) -> None:
        self.flushed = True


def test_hashing_writer_hashes_what_passes_and_remembers_errors(tmp_path: Path) -> None:
    with open(tmp_path / "a.bin", "wb") as handle:
        writer = HashingWriter(handle)
        assert writer.write(b"abc") == 3
        assert writer.write(b"") == 0
        assert writer.write(b"def") == 3
        writer.flush()
        assert (tmp_path / "a.bin").read_bytes() == b"abcdef"
    assert writer.checksum() == f"xxh3_128:{xxhash.xxh3_128(b'abcdef').hexdigest()}"
    assert writer.error is None
    failing = HashingWriter(FailingHandle())  # type: ignore[arg-type]
    with pytest.raises(OSError, match="No space"):
        failing.write(b"x")
    assert isinstance(failing.error, OSError)
    assert failing.error.errno == errno.ENOSPC
