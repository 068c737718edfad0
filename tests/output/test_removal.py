"""Deletes stay inside the output layout; temporaries of live processes are kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cryolike_convert.compat import (
    convert_particle_stacks_from_indexed_cryosparc_file as convert,
)
from cryolike_convert.errors import OutputError
from cryolike_convert.output.layout import OutputLayout
from cryolike_convert.output.removal import (
    layout_file,
    orphaned_temporaries,
    remove_files,
    temporary_owner,
)
from cryolike_convert.testing import make_cryosparc_project
from tests.conftest import dead_pid


@pytest.mark.parametrize(
    ("relative", "allowed"),
    [
        ("fft/particles_fourier_stack_000003.pt", True),
        ("fft/particles_fourier_stack_000003.npz", True),
        ("phys/particles_phys_stack_000003.pt", True),
        ("plots/power_spectrum_stack_000003.png", True),
        ("../precious.txt", False),
        ("fft/../../precious.txt", False),
        ("fft/../fft/particles_fourier_stack_000003.pt", False),
        ("/etc/passwd", False),
        ("fft/notes.txt", False),
        ("phys/particles_fourier_stack_000003.pt", False),  # wrong folder
        ("fft\\particles_fourier_stack_000003.pt", False),
        ("./fft/particles_fourier_stack_000003.pt", False),
        ("fft/particles_fourier_stack_3.pt", False),
        (17, False),
        (None, False),
    ],
)
def test_only_layout_names_are_ever_removable(
    relative: object, allowed: bool, tmp_path: Path
) -> None:
    layout = OutputLayout(tmp_path)
    path = layout_file(layout, relative)
    assert (path is not None) == allowed
    if path is not None:
        assert path.parent.parent == tmp_path


def test_temporaries_are_recognised_only_for_output_names(tmp_path: Path) -> None:
    fft = tmp_path / "fft"
    assert temporary_owner(fft / ".particles_fourier_stack_000001.pt.77.tmp") == 77
    assert temporary_owner(tmp_path / ".manifest.json.12.tmp") == 12
    assert temporary_owner(tmp_path / ".bashrc.12.tmp") is None
    assert temporary_owner(fft / ".notes.txt.12.tmp") is None
    assert temporary_owner(fft / "particles_fourier_stack_000001.pt") is None


def test_only_temporaries_of_dead_or_own_processes_are_orphans(tmp_path: Path) -> None:
    layout = OutputLayout(tmp_path)
    (tmp_path / "fft").mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        name = ".particles_fourier_stack_000000.pt"
        live = tmp_path / "fft" / f"{name}.{sleeper.pid}.tmp"
        dead = tmp_path / "fft" / f"{name}.{dead_pid()}.tmp"
        own = tmp_path / f".manifest.json.{os.getpid()}.tmp"
        foreign = tmp_path / f".bashrc.{dead_pid()}.tmp"
        for path in (live, dead, own, foreign):
            path.write_bytes(b"partial")
        assert orphaned_temporaries(layout) == sorted([dead, own])
        remove_files(layout, orphaned_temporaries(layout), strict=True)
        assert live.exists()
        assert foreign.exists()
        assert not dead.exists()
        assert not own.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_symbolic_link_is_removed_never_its_target(tmp_path: Path) -> None:
    layout = OutputLayout(tmp_path / "out")
    (layout.root / "fft").mkdir(parents=True)
    precious = tmp_path / "precious.pt"
    precious.write_text("keep me")
    link = layout.root / "fft" / "particles_fourier_stack_000000.pt"
    link.symlink_to(precious)
    remove_files(layout, [link, precious], strict=True)
    assert not link.is_symlink()
    assert precious.read_text() == "keep me"


def _finished_run(tmp_path: Path) -> tuple[Path, Path, Path]:
    project = make_cryosparc_project(tmp_path / "project", n_particles=24)
    out = tmp_path / "out"
    convert(project.params, project.cs_file, folder_output=out, batch_size=8)
    return project.params, project.cs_file, out


@pytest.mark.parametrize(
    "pointer",
    [
        "../precious.txt",
        "{absolute}",
        "fft/../../precious.txt",
        "plots/../../precious.txt",
    ],
)
def test_overwrite_never_follows_a_manifest_outside_the_folder(
    pointer: str, tmp_path: Path
) -> None:
    params, cs_file, out = _finished_run(tmp_path)
    precious = tmp_path / "precious.txt"
    precious.write_text("notes")
    manifest = json.loads((out / "manifest.json").read_text())
    target = pointer.format(absolute=precious)
    manifest["stacks"][0]["files"]["npz"] = target
    manifest["stacks"][1]["plots"]["phys"] = target
    (out / "manifest.json").write_text(json.dumps(manifest))
    report = convert(params, cs_file, folder_output=out, batch_size=8, overwrite=True)
    assert precious.read_text() == "notes"
    assert report.n_stacks == 3


def test_overwrite_removes_a_linked_stack_file_but_not_its_target(
    tmp_path: Path,
) -> None:
    params, cs_file, out = _finished_run(tmp_path)
    precious = tmp_path / "precious.pt"
    precious.write_text("experiment 12")
    stack = out / "fft" / "particles_fourier_stack_000001.pt"
    stack.unlink()
    stack.symlink_to(precious)
    convert(params, cs_file, folder_output=out, batch_size=8, overwrite=True)
    assert precious.read_text() == "experiment 12"
    assert stack.is_file()
    assert not stack.is_symlink()


def test_overwrite_refuses_to_delete_through_a_linked_folder(tmp_path: Path) -> None:
    params, cs_file, out = _finished_run(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    (out / "fft").rename(elsewhere)
    (out / "fft").symlink_to(elsewhere)
    kept = sorted(p.name for p in elsewhere.iterdir())
    with pytest.raises(OutputError, match="symbolic link"):
        convert(params, cs_file, folder_output=out, batch_size=8, overwrite=True)
    assert sorted(p.name for p in elsewhere.iterdir()) == kept


def test_overwrite_keeps_files_the_layout_does_not_name(tmp_path: Path) -> None:
    params, cs_file, out = _finished_run(tmp_path)
    notes = [out / "notes.txt", out / "fft" / "notes.txt", out / ".bashrc.1.tmp"]
    for path in notes:
        path.write_text("mine")
    convert(params, cs_file, folder_output=out, batch_size=8, overwrite=True)
    assert all(path.read_text() == "mine" for path in notes)
