"""Re-runs: resume and overwrite in every wrapper, stale temporaries, atomic writes."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cryolike_convert import compat
from cryolike_convert.errors import ConversionError, OutputError
from cryolike_convert.testing import (
    make_cryosparc_job,
    make_cryosparc_project,
    make_relion_project,
    write_paired_star_inputs,
)

Convert = Callable[..., Any]


def _indexed_cryosparc(root: Path) -> Convert:
    project = make_cryosparc_project(root, n_particles=20)

    def convert(out: Path, **kwargs: Any) -> Any:
        return compat.convert_particle_stacks_from_indexed_cryosparc_file(
            project.params, project.cs_file, folder_output=out, **kwargs
        )

    return convert


def _indexed_star(root: Path) -> Convert:
    project = make_relion_project(root, n_particles=20)

    def convert(out: Path, **kwargs: Any) -> Any:
        return compat.convert_particle_stacks_from_indexed_star_file(
            project.params, project.star_file, folder_output=out, **kwargs
        )

    return convert


def _paired_star(root: Path) -> Convert:
    mrcs, stars, params = write_paired_star_inputs(root, sizes=(11, 9))

    def convert(out: Path, **kwargs: Any) -> Any:
        return compat.convert_particle_stacks_from_paired_star_and_mrc_files(
            params, mrcs, stars, folder_output=out, **kwargs
        )

    return convert


def _job_directory(root: Path) -> Convert:
    job = make_cryosparc_job(root, counts=(7, 7, 6))

    def convert(out: Path, **kwargs: Any) -> Any:
        return compat.convert_particle_stacks_from_cryosparc_job_directory(
            job.params, root, job.job_number, folder_output=out, **kwargs
        )

    return convert


WRAPPERS = {
    "indexed_cryosparc": _indexed_cryosparc,
    "indexed_star": _indexed_star,
    "paired_star": _paired_star,
    "job_directory": _job_directory,
}


def output_bytes(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.glob("*/*"))
        if p.suffix in (".pt", ".npz", ".png")
    }


@pytest.mark.parametrize("name", sorted(WRAPPERS))
def test_every_wrapper_resumes_by_checksum(name: str, tmp_path: Path) -> None:
    convert = WRAPPERS[name](tmp_path / "input")
    out = tmp_path / "out"
    convert(out, batch_size=4, flag_plots=False)
    before = output_bytes(out)
    assert len(before) >= 12
    stacks = sorted((out / "fft").glob("*.pt"))
    stacks[1].unlink()
    (out / "phys" / stacks[2].name.replace("fourier", "phys")).write_bytes(b"junk")
    kept = stacks[0].stat().st_mtime_ns
    stale = out / "fft" / ".particles_fourier_stack_000003.pt.99999.tmp"
    stale.write_bytes(b"half a stack")
    report = convert(out, batch_size=4, flag_plots=False, skip_exist=True)
    assert output_bytes(out) == before
    assert stacks[0].stat().st_mtime_ns == kept
    assert not stale.exists()
    assert report.n_converted == sum(e["n_images"] for e in report.stacks)
    with pytest.raises(OutputError, match=r"\n  batch_size: 4 vs 5\n"):
        convert(out, batch_size=5, flag_plots=False, skip_exist=True)


@pytest.mark.parametrize("name", sorted(WRAPPERS))
def test_every_wrapper_overwrites_per_manifest(name: str, tmp_path: Path) -> None:
    convert = WRAPPERS[name](tmp_path / "input")
    out = tmp_path / "out"
    convert(out, batch_size=4, flag_plots=False)
    (out / "fft" / ".particles_fourier_stack_000000.npz.123.tmp").write_bytes(b"x")
    convert(out, batch_size=100, flag_plots=False, overwrite=True)
    manifest = json.loads((out / "manifest.json").read_text())
    listed = {f for e in manifest["stacks"] for f in e["files"].values()}
    on_disk = {p.relative_to(out).as_posix() for p in out.glob("*/*")}
    assert on_disk == listed


def test_overwrite_removes_the_previous_plots(tmp_path: Path) -> None:
    convert = _indexed_cryosparc(tmp_path / "input")
    out = tmp_path / "out"
    convert(out, batch_size=5, flag_plots=True)
    assert len(list((out / "plots").glob("*.png"))) == 12
    convert(out, batch_size=20, flag_plots=True, overwrite=True)
    assert sorted(p.name for p in (out / "plots").iterdir()) == [
        "particles_fourier_stack_000000.png",
        "particles_phys_stack_000000.png",
        "power_spectrum_stack_000000.png",
    ]


def test_resume_redoes_a_stack_whose_plot_is_missing(tmp_path: Path) -> None:
    convert = _indexed_cryosparc(tmp_path / "input")
    out = tmp_path / "out"
    convert(out, batch_size=10, flag_plots=True)
    plot = out / "plots" / "power_spectrum_stack_000001.png"
    plot.unlink()
    convert(out, batch_size=10, flag_plots=True, skip_exist=True)
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_plots_are_written_through_a_temporary_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    convert = _indexed_cryosparc(tmp_path / "input")
    renamed: list[tuple[str, str]] = []
    real_replace = os.replace

    def record(source: Any, target: Any) -> None:
        renamed.append((Path(source).name, Path(target).name))
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", record)
    convert(tmp_path / "out", batch_size=20, flag_plots=True)
    pngs = [(s, t) for s, t in renamed if t.endswith(".png")]
    assert len(pngs) == 3
    for source, target in pngs:
        assert source.startswith(f".{target}.")
        assert source.endswith(".tmp")
    assert {t for _, t in renamed} >= {
        "manifest.json",
        "particles_phys_stack_000000.pt",
    }


@pytest.mark.parametrize("where", ["write", "fsync"])
def test_full_disk_mid_run_leaves_nothing_and_names_the_output(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryolike_convert.formats import atomic as output

    convert = _indexed_cryosparc(tmp_path / "input")
    out = tmp_path / "out"
    calls = {"n": 0}

    def disk_full_from_the_eighth_call() -> None:
        calls["n"] += 1
        if calls["n"] >= 8:
            raise OSError(errno.ENOSPC, "No space left on device")

    if where == "write":

        class FullDisk:
            def __init__(self, handle: Any) -> None:
                self._handle = handle

            def __enter__(self) -> FullDisk:
                return self

            def __exit__(self, *exc: object) -> None:
                self._handle.close()

            def write(self, data: bytes) -> int:
                disk_full_from_the_eighth_call()
                return int(self._handle.write(data))

            def flush(self) -> None:
                self._handle.flush()

            def fileno(self) -> int:
                return int(self._handle.fileno())

        monkeypatch.setattr(
            output,
            "open",
            lambda *a, **k: FullDisk(open(*a, **k)),  # noqa: SIM115
            raising=False,
        )
    else:
        real_fsync = os.fsync

        def fsync(descriptor: int) -> None:
            disk_full_from_the_eighth_call()
            real_fsync(descriptor)

        monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(ConversionError, match="No space left") as info:
        convert(out, batch_size=4, flag_plots=False)
    assert isinstance(info.value, OutputError)
    assert str(out) in str(info.value)
    assert not [p for p in out.rglob("*") if p.is_file()]


def test_resume_with_changed_input_is_refused(tmp_path: Path) -> None:
    import numpy as np

    from cryolike_convert.testing import write_cs

    project = make_cryosparc_project(tmp_path / "input", n_particles=20)
    out = tmp_path / "out"
    common: dict[str, Any] = {
        "folder_output": out,
        "batch_size": 5,
        "flag_plots": False,
    }
    compat.convert_particle_stacks_from_indexed_cryosparc_file(
        project.params, project.cs_file, **common
    )
    table = np.load(project.cs_file, allow_pickle=False)
    table["ctf/df1_A"][3] += 100.0
    write_cs(project.cs_file, table)
    changed = r"inputs\.metadata\[0\]\.sha256: '[0-9a-f]{64}' vs '[0-9a-f]{64}'"
    with pytest.raises(OutputError, match=changed) as info:
        compat.convert_particle_stacks_from_indexed_cryosparc_file(
            project.params, project.cs_file, skip_exist=True, **common
        )
    assert str(out / "manifest.json") in str(info.value)
