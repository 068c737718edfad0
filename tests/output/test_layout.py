"""The output folder's names, what belongs to the layout, and atomic output writes."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import IO

import numpy as np
import pytest
import xxhash

from cryolike_convert.errors import OutputError
from cryolike_convert.formats.atomic import temporary_name
from cryolike_convert.formats.npz import read_npz_safely
from cryolike_convert.output.layout import OutputLayout, save_npz, write_atomic


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_stack_file_names_are_cryolikes(tmp_path: Path) -> None:
    layout = OutputLayout(tmp_path)
    assert layout.stack_files(10) == {
        "fourier": tmp_path / "fft" / "particles_fourier_stack_000010.pt",
        "npz": tmp_path / "fft" / "particles_fourier_stack_000010.npz",
        "phys": tmp_path / "phys" / "particles_phys_stack_000010.pt",
    }
    assert layout.stack_files(0)["fourier"].name == "particles_fourier_stack_000000.pt"
    assert layout.stack_files(123456)["phys"].name == "particles_phys_stack_123456.pt"


def test_plot_file_names_are_cryolikes(tmp_path: Path) -> None:
    assert OutputLayout(tmp_path).plot_files(10) == {
        "phys": tmp_path / "plots" / "particles_phys_stack_000010.png",
        "fourier": tmp_path / "plots" / "particles_fourier_stack_000010.png",
        "power_spectrum": tmp_path / "plots" / "power_spectrum_stack_000010.png",
    }


def test_folders_and_manifest(tmp_path: Path) -> None:
    layout = OutputLayout(tmp_path / "out")
    assert layout.fft_dir == tmp_path / "out" / "fft"
    assert layout.phys_dir == tmp_path / "out" / "phys"
    assert layout.plots_dir == tmp_path / "out" / "plots"
    assert layout.manifest == tmp_path / "out" / "manifest.json"
    assert layout.relative(layout.stack_files(3)["npz"]) == (
        "fft/particles_fourier_stack_000003.npz"
    )


def test_nothing_exists_in_a_missing_folder(tmp_path: Path) -> None:
    layout = OutputLayout(tmp_path / "never")
    assert layout.existing_stack_files() == []
    assert layout.existing_plot_files() == []
    assert layout.temporary_files() == []


def test_only_layout_names_count_as_stack_files(tmp_path: Path) -> None:
    layout = OutputLayout(tmp_path)
    ours = [
        *layout.stack_files(0).values(),
        *layout.stack_files(7).values(),
    ]
    for path in ours:
        touch(path)
    strangers = [
        tmp_path / "fft" / "particles_fourier_stack_7.pt",
        tmp_path / "fft" / "particles_fourier_stack_0000001.pt",
        tmp_path / "fft" / "my_notes.npz",
        tmp_path / "fft" / "particles_fourier_stack_000001.pt.bak",
        tmp_path / "phys" / "particles_phys_stack_000001.mrc",
        tmp_path / "particles_fourier_stack_000001.pt",  # not in fft/
        tmp_path / "plots" / "particles_fourier_stack_000001.pt",
        temporary_name(tmp_path / "fft" / "particles_fourier_stack_000002.pt"),
    ]
    for path in strangers:
        touch(path)
    found = layout.existing_stack_files()
    assert sorted(found) == sorted(ours)
    assert all(path.parent in (layout.fft_dir, layout.phys_dir) for path in found)


def test_only_layout_names_count_as_plot_files(tmp_path: Path) -> None:
    layout = OutputLayout(tmp_path)
    ours = [*layout.plot_files(0).values(), *layout.plot_files(12).values()]
    for path in ours:
        touch(path)
    for name in (
        "holiday.png",
        "power_spectrum_stack_1.png",
        "particles_fourier_stack_000001.pdf",
        "power_spectrum_000001.png",
    ):
        touch(tmp_path / "plots" / name)
    touch(tmp_path / "fft" / "power_spectrum_stack_000001.png")
    assert sorted(layout.existing_plot_files()) == sorted(ours)


def test_temporary_files_are_found_in_every_output_folder(tmp_path: Path) -> None:
    layout = OutputLayout(tmp_path)
    temporaries = [
        temporary_name(layout.manifest),
        temporary_name(layout.stack_files(4)["npz"]),
        temporary_name(layout.stack_files(4)["phys"]),
        temporary_name(layout.plot_files(4)["fourier"]),
        tmp_path / "fft" / ".particles_fourier_stack_000004.pt.999999.tmp",
    ]
    for path in temporaries:
        touch(path)
    for path in (
        layout.manifest,
        tmp_path / "fft" / "particles.tmp",
        tmp_path / "fft" / ".hidden",
        tmp_path / "fft" / ".x.pid.tmp",
        tmp_path / "elsewhere" / ".a.npz.12.tmp",  # not an output folder
    ):
        touch(path)
    assert sorted(layout.temporary_files()) == sorted(temporaries)


def test_write_atomic_returns_the_checksum_of_the_file(tmp_path: Path) -> None:
    target = tmp_path / "manifest.json"
    payload = b'{"format": "x"}' * 1000

    def write(handle: IO[bytes]) -> None:
        handle.write(payload[:5000])
        handle.write(payload[5000:])

    digest = write_atomic(target, write)
    assert target.read_bytes() == payload
    assert digest == f"xxh3_128:{xxhash.xxh3_128(payload).hexdigest()}"
    assert OutputLayout(tmp_path).temporary_files() == []


def test_a_failed_output_write_is_an_output_error_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    target = tmp_path / "fft" / "particles_fourier_stack_000000.npz"
    target.parent.mkdir()

    def write(handle: IO[bytes]) -> None:
        handle.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OutputError) as caught:
        write_atomic(target, write)
    assert str(target) in str(caught.value)
    assert "No space left on device" in str(caught.value)
    assert list(target.parent.iterdir()) == []


def test_a_failed_write_keeps_the_previous_file(tmp_path: Path) -> None:
    target = touch(tmp_path / "manifest.json")

    def write(handle: IO[bytes]) -> None:
        handle.write(b"new")
        raise OSError(errno.EIO, "I/O error")

    with pytest.raises(OutputError):
        write_atomic(target, write)
    assert target.read_bytes() == b"x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]


def test_save_npz_writes_what_it_hashes(tmp_path: Path) -> None:
    target = tmp_path / "stack.npz"
    arrays = {"a": np.arange(7, dtype=np.int64), "b": np.array("text")}
    digest = save_npz(target, arrays)
    assert digest == f"xxh3_128:{xxhash.xxh3_128(target.read_bytes()).hexdigest()}"
    members = read_npz_safely(target)
    assert set(members) == {"a", "b"}
    np.testing.assert_array_equal(members["a"], arrays["a"])
    assert str(members["b"]) == "text"
