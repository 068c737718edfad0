"""The streaming .pt writer: torch.load reads what it writes, as torch.save's."""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pytest
import torch

from cryolike_convert.formats.tensorfile import TensorFileWriter, tensor_pickle


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
def test_blocks_load_as_one_tensor(tmp_path: Path, dtype: type) -> None:
    rng = np.random.default_rng(0)
    data: np.ndarray = rng.normal(size=(11, 4, 6)).astype(dtype)
    if np.dtype(dtype).kind == "c":
        data = data + 1j * rng.normal(size=data.shape).astype(dtype)
    path = tmp_path / "stack.pt"
    with (
        open(path, "wb") as handle,
        TensorFileWriter(handle, data.dtype, (4, 6)) as writer,
    ):
        for start in range(0, 11, 4):
            writer.append(data[start : start + 4])
    for mmap in (False, True):
        tensor = torch.load(path, weights_only=True, mmap=mmap)
        assert tensor.dtype == torch.from_numpy(data).dtype
        np.testing.assert_array_equal(tensor.numpy(), data)
    header = path.read_bytes()[:30]
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    assert (30 + name_length + extra_length) % 64 == 0  # storage aligned for mmap


def test_pickle_record_equals_torch_save() -> None:
    tensor = torch.zeros(3, 5, 7, dtype=torch.complex64)
    buffer = io.BytesIO()
    torch.save(tensor, buffer)
    expected = zipfile.ZipFile(buffer).read("archive/data.pkl")
    assert tensor_pickle(np.dtype(np.complex64), (3, 5, 7)) == expected


def test_empty_stack(tmp_path: Path) -> None:
    path = tmp_path / "empty.pt"
    with (
        open(path, "wb") as handle,
        TensorFileWriter(handle, np.dtype(np.float32), (2, 2)),
    ):
        pass
    assert tuple(torch.load(path, weights_only=True).shape) == (0, 2, 2)


def write_mismatched_rows(handle: BinaryIO) -> None:
    with TensorFileWriter(handle, np.dtype(np.float32), (2, 2)) as writer:
        writer.append(np.zeros((1, 2, 2), np.float32))
        writer.append(np.zeros((1, 3, 3), np.float32))


def test_rejects_wrong_rows_and_abandons_on_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.pt"
    with (
        open(path, "wb") as handle,
        pytest.raises(ValueError, match="expected float32"),
    ):
        write_mismatched_rows(handle)
    with pytest.raises((RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile)):
        torch.load(path, weights_only=True)


def test_declared_torch_floor_is_the_version_ci_tests() -> None:
    """The layout is written by hand, so the floor is what this suite runs on."""
    import re

    root = Path(__file__).resolve().parents[2]
    floors = re.findall(
        r'"torch([<>=!~]=?)([\d.]+)"', (root / "pyproject.toml").read_text()
    )
    assert len(floors) == 1
    assert floors[0][0] == ">="
    pinned = re.search(r"torch==([\d.]+)", (root / "scripts" / "setup.sh").read_text())
    assert pinned is not None
    assert pinned.group(1).startswith(floors[0][1])
    assert torch.__version__.startswith(pinned.group(1))


def test_a_failed_header_write_leaves_no_archive_to_finish_later() -> None:
    import errno
    import gc

    class FullDisk:
        def __init__(self) -> None:
            self.writes = 0

        def write(self, data: bytes) -> int:
            self.writes += 1
            raise OSError(errno.ENOSPC, "No space left on device")

    disk = FullDisk()
    with pytest.raises(OSError, match="No space left"):
        TensorFileWriter(disk, np.dtype(np.float32), (2, 2))
    gc.collect()  # a still-open ZipFile would write its directory here, and fail
    assert disk.writes == 1
