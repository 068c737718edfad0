"""Golden cases star_indexed and star_paired, compared in source order."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import cryolike_convert

GOLDEN = Path(__file__).resolve().parents[3] / "shared" / "golden"
GRID_KEYS = ("n_pixels", "pixel_size", "radius_max", "dist_radii", "n_inplanes")
LENS_KEYS = (
    "defocusU",
    "defocusV",
    "defocusAngle",
    "phaseShift",
    "angleRotation",
    "angleTilt",
    "anglePsi",
)


def _run_case(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Copy the case inputs to tmp_path and run its call there, as the reference did."""
    source = GOLDEN / case
    work = tmp_path / case
    shutil.copytree(source / "input", work / "input")
    for path in (work / "input").rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    call = json.loads((source / "case.json").read_text())["call"]
    kwargs = dict(call["kwargs"], folder_output="out")
    monkeypatch.chdir(work)
    getattr(cryolike_convert, call["function"])(**kwargs)
    return work / "out"


def _load_output(folder: Path) -> dict[str, Any]:
    numbers = sorted(
        int(p.stem.rsplit("_", 1)[1]) for p in (folder / "fft").glob("*.npz")
    )
    assert numbers == list(range(len(numbers)))
    fourier, phys, npz = [], [], []
    for number in numbers:
        fourier.append(
            torch.load(
                folder / f"fft/particles_fourier_stack_{number:06d}.pt",
                weights_only=True,
            ).numpy()
        )
        phys.append(
            torch.load(
                folder / f"phys/particles_phys_stack_{number:06d}.pt", weights_only=True
            ).numpy()
        )
        with np.load(
            folder / f"fft/particles_fourier_stack_{number:06d}.npz", allow_pickle=True
        ) as data:
            npz.append(dict(data))
    return {
        "fourier": np.concatenate(fourier),
        "phys": np.concatenate(phys),
        "npz": npz,
        "sizes": [len(f) for f in fourier],
    }


def _check_against_expected(case: str, output: dict[str, Any]) -> None:
    with np.load(GOLDEN / case / "expected.npz") as data:
        expected = dict(data)
    n = int(expected["n_images"])
    assert output["fourier"].shape == expected["fourier"].shape
    assert output["fourier"].dtype == expected["fourier"].dtype
    # Tolerance: behaviour.md / golden README — finufft eps 1e-6 lands ≤ 3e-6.
    difference = (output["fourier"] - expected["fourier"]).reshape(n, -1)
    scale = np.linalg.norm(expected["fourier"].reshape(n, -1), axis=1)
    assert (np.linalg.norm(difference, axis=1) / scale).max() <= 1e-5
    # Physical images are in [-1, 1]; the reference's float32 centring.
    assert np.abs(output["phys"] - expected["phys"]).max() <= 1e-6
    npz = output["npz"]
    for key in LENS_KEYS:
        if key not in expected:
            continue
        ours = np.concatenate([stack[key] for stack in npz])
        assert ours.dtype == np.float64
        # STAR values: float64 after np.radians, rel ≤ 1e-12.
        np.testing.assert_allclose(ours, expected[key], rtol=1e-12, atol=0)
    source_row = np.concatenate([stack["source_row"] for stack in npz])
    np.testing.assert_array_equal(source_row, expected["source_row"])
    idxs = np.concatenate([stack["idxs"] for stack in npz])
    assert idxs.dtype == np.int64
    np.testing.assert_array_equal(idxs, expected["mrc_index"])
    files = np.concatenate([stack["files"] for stack in npz])
    assert files.dtype.kind == "U"
    stems = [Path(str(name)).name for name in files]
    assert stems == [Path(str(name)).name for name in expected["mrc_file"]]
    with np.load(GOLDEN / case / "input" / "params.npz", allow_pickle=True) as params:
        for stack in npz:
            for key in (*GRID_KEYS, "precision"):
                assert stack[key].dtype == params[key].dtype
                assert stack[key].tobytes() == params[key].tobytes()


def test_golden_star_indexed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    output = _load_output(_run_case("star_indexed", tmp_path, monkeypatch))
    _check_against_expected("star_indexed", output)
    assert output["sizes"] == [16, 2]
    first = output["npz"][0]
    assert first["files"][0] == "Particles/stack_b.mrcs"
    # rlnCtfBfactor/rlnCtfScalefactor exist, so they are per-image arrays.
    assert first["ctfBfactor"].shape == (16,)
    assert first["ctfScalefactor"].shape == (16,)
    assert float(first["voltage"]) == 300.0
    assert "stack_start" not in first


def test_golden_star_paired(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    output = _load_output(_run_case("star_paired", tmp_path, monkeypatch))
    _check_against_expected("star_paired", output)
    assert output["sizes"] == [5, 2, 5, 1]
    ranges = [(int(s["stack_start"]), int(s["stack_end"])) for s in output["npz"]]
    assert ranges == [(0, 5), (5, 7), (0, 5), (5, 6)]
    assert output["npz"][0]["angleRotation"].dtype == object  # None, as the reference
    assert str(output["npz"][0]["files"][0]) == "input/mic_0002_particles.mrcs"
