"""npz files: byte-reproducible writes, and reads that never unpickle."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cryolike_convert.formats.npz import (
    OBJECT_MEMBER,
    none_array,
    read_npz_safely,
    write_npz,
)


class ReadError(Exception):
    """The caller's own error type."""


class Payload:
    """Unpickling this object creates a file (what a hostile npz could do)."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[object, tuple[Path]]:
        return (Path.touch, (self.target,))


def arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(4)
    return {
        "defocusU": rng.uniform(8000, 20000, 50).astype(np.float32),
        "idxs": np.arange(50, dtype=np.uint32),
        "files": np.array([b"J3/a.mrc", b">J3/b.mrc"] * 25),
        "names": np.array(["caf\u00e9.mrcs", "b.mrcs"]),
        "voltage": np.array(300.0),
        "n_pixels": np.array([32, 32], dtype=np.int64),
        "flag": np.array(True),
        "grid": rng.normal(size=(3, 4, 5)),
        "fortran": np.asfortranarray(rng.normal(size=(4, 6))),
        "atom_radii": none_array(),
    }


def write(path: Path, members: dict[str, np.ndarray]) -> bytes:
    with open(path, "wb") as handle:
        write_npz(handle, members)
    return path.read_bytes()


def test_writing_twice_gives_the_same_bytes(tmp_path: Path) -> None:
    first = write(tmp_path / "a.npz", arrays())
    second = write(tmp_path / "b.npz", arrays())
    assert first == second
    buffer = io.BytesIO()
    write_npz(buffer, arrays())
    assert buffer.getvalue() == first
    assert write(tmp_path / "c.npz", {**arrays(), "voltage": np.array(200.0)}) != first


def test_read_back_equals_what_was_written(tmp_path: Path) -> None:
    write(tmp_path / "a.npz", arrays())
    members = read_npz_safely(tmp_path / "a.npz")
    assert list(members) == list(arrays())
    for key, expected in arrays().items():
        if key == "atom_radii":
            continue
        value = members[key]
        assert isinstance(value, np.ndarray), key
        assert value.dtype == expected.dtype, key
        assert value.shape == expected.shape, key
        np.testing.assert_array_equal(value, expected, err_msg=key)
    assert members["atom_radii"] is OBJECT_MEMBER


def test_numpy_reads_our_files_as_its_own(tmp_path: Path) -> None:
    write(tmp_path / "a.npz", arrays())
    with np.load(tmp_path / "a.npz", allow_pickle=True) as loaded:
        assert sorted(loaded.files) == sorted(arrays())
        for key, expected in arrays().items():
            if key != "atom_radii":
                np.testing.assert_array_equal(loaded[key], expected, err_msg=key)
        assert loaded["atom_radii"].item() is None
    members = zipfile.ZipFile(tmp_path / "a.npz").infolist()
    assert {info.date_time for info in members} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.compress_type for info in members} == {zipfile.ZIP_DEFLATED}


def test_only_a_none_object_may_be_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="allow_pickle"):
        write(tmp_path / "a.npz", {"evil": np.array([1, "two"], dtype=object)})
    with pytest.raises(ValueError, match="allow_pickle"):
        write(
            tmp_path / "b.npz",
            {"evil": np.array(Payload(tmp_path / "x"), dtype=object)},
        )


def test_object_members_are_recognised_and_never_unpickled(tmp_path: Path) -> None:
    target = tmp_path / "created_by_unpickling"
    hostile = tmp_path / "hostile.npz"
    np.savez(
        hostile,
        evil=np.array([Payload(target)], dtype=object),
        fine=np.arange(3),
    )
    members = read_npz_safely(hostile)
    assert members["evil"] is OBJECT_MEMBER
    np.testing.assert_array_equal(members["fine"], np.arange(3))
    assert not target.exists()
    # The payload is live: numpy's pickling reader does create the file.
    with np.load(hostile, allow_pickle=True) as loaded:
        loaded["evil"]
    assert target.exists()


def test_only_the_asked_keys_are_read(tmp_path: Path) -> None:
    target = tmp_path / "created_by_unpickling"
    np.savez(
        tmp_path / "a.npz",
        evil=np.array([Payload(target)], dtype=object),
        fine=np.arange(3),
        other=np.ones(2),
    )
    members = read_npz_safely(tmp_path / "a.npz", {"fine", "absent"})
    assert list(members) == ["fine"]
    assert not target.exists()


def test_missing_file_raises_the_callers_error(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="not found") as caught:
        read_npz_safely(tmp_path / "absent.npz", error=ReadError)
    assert "absent.npz" in str(caught.value)
    with pytest.raises(ValueError, match=r"absent\.npz"):
        read_npz_safely(tmp_path / "absent.npz")


def test_a_file_that_is_no_archive_raises_the_callers_error(tmp_path: Path) -> None:
    (tmp_path / "params.npz").write_bytes(
        b"version https://git-lfs.github.com/spec/v1\n"
    )
    with pytest.raises(ReadError, match=r"params\.npz"):
        read_npz_safely(tmp_path / "params.npz", error=ReadError)
    (tmp_path / "folder.npz").mkdir()
    with pytest.raises(ReadError, match=r"folder\.npz"):
        read_npz_safely(tmp_path / "folder.npz", error=ReadError)


def test_a_member_that_is_no_array_raises_the_callers_error(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "a.npz", "w") as archive:
        archive.writestr("notes.npy", b"just some text, not an array")
    with pytest.raises(ReadError) as caught:
        read_npz_safely(tmp_path / "a.npz", error=ReadError)
    assert "notes" in str(caught.value)
    assert "a.npz" in str(caught.value)


def test_a_damaged_member_raises_the_callers_error(tmp_path: Path) -> None:
    path = tmp_path / "a.npz"
    data = bytearray(write(path, {"values": np.arange(20_000, dtype=np.float64)}))
    info = zipfile.ZipFile(path).infolist()[0]
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for offset in (10, 200, info.compress_size - 8):
        damaged = bytearray(data)
        damaged[start + offset] ^= 0xFF
        path.write_bytes(bytes(damaged))
        with pytest.raises(ReadError) as caught:
            read_npz_safely(path, error=ReadError)
        assert "values" in str(caught.value)
        assert "a.npz" in str(caught.value)


def test_an_archive_member_without_npy_suffix_keeps_its_name(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.arange(4))
    with zipfile.ZipFile(tmp_path / "a.npz", "w") as archive:
        archive.writestr("plain", buffer.getvalue())
    members = read_npz_safely(tmp_path / "a.npz")
    np.testing.assert_array_equal(members["plain"], np.arange(4))


def test_none_array_is_cryolikes_none() -> None:
    value = none_array()
    assert value.dtype == object
    assert value.shape == ()
    assert value.item() is None
