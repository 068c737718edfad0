"""Golden cases: our output against the reference's, in source order.

Tolerances (../shared/golden/README.md): the reference runs finufft at eps 1e-6, so a
correct single-precision transform differs by up to ~3e-6 relative L2 per image; we
allow 1e-5. In double precision we centre in float32 as the reference does and use
eps 1e-12, so 1e-9 holds. Physical images use the reference's own float32 torch
operations and must match to 1e-6 (they match exactly).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import cryolike_convert
from cryolike_convert.formats.npz import read_npz_safely
from tests.conftest import GOLDEN, golden_cases, load_output, max_relative_l2

LENS_KEYS = ("defocusU", "defocusV", "defocusAngle", "phaseShift")
GRID_KEYS = (
    "n_pixels",
    "pixel_size",
    "radius_max",
    "dist_radii",
    "n_inplanes",
    "precision",
)


def _run_case(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    info = json.loads((GOLDEN / case / "case.json").read_text())
    kwargs = dict(info["call"]["kwargs"])
    out = tmp_path / "out"
    kwargs["folder_output"] = str(out)
    monkeypatch.chdir(GOLDEN / case)
    getattr(cryolike_convert, info["call"]["function"])(**kwargs)
    return out


def _our_source_rows(info: dict[str, Any], expected: Any) -> np.ndarray:
    """The rows we convert: all the reference converted, in source order, except
    that ``n_stacks_max`` keeps the first ``n_stacks_max * batch_size`` rows in
    source order (the reference keeps the first ones in its path-sorted order).
    """
    kwargs = info["call"]["kwargs"]
    n_stacks_max = kwargs.get("n_stacks_max", -1)
    if n_stacks_max > 0:
        n_kept = min(info["n_source_rows"], n_stacks_max * kwargs["batch_size"])
        return np.arange(n_kept)
    return np.asarray(expected["source_row"])


@pytest.mark.parametrize("case", golden_cases("cs_indexed", "cs_job"))
def test_golden_case_matches_reference(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _run_case(case, tmp_path, monkeypatch)
    expected = np.load(GOLDEN / case / "expected.npz")
    ours = load_output(out)
    source_row = np.concatenate([z["source_row"] for z in ours["npz"]])
    assert np.all(np.diff(source_row) > 0), "output must follow source order"
    common, ours_at, expected_at = np.intersect1d(
        source_row, expected["source_row"], return_indices=True
    )
    info = json.loads((GOLDEN / case / "case.json").read_text())
    np.testing.assert_array_equal(source_row, _our_source_rows(info, expected))
    assert len(common) > 0
    tolerance = 1e-9 if expected["fourier"].dtype == np.complex128 else 1e-5
    fourier = ours["fourier"][ours_at]
    assert fourier.dtype == expected["fourier"].dtype
    assert max_relative_l2(fourier, expected["fourier"][expected_at]) <= tolerance
    np.testing.assert_allclose(
        ours["phys"][ours_at], expected["phys"][expected_at], rtol=0, atol=1e-6
    )
    for key in LENS_KEYS:
        values = np.concatenate([z[key] for z in ours["npz"]])[ours_at]
        assert values.dtype == expected[key].dtype
        np.testing.assert_array_equal(values, expected[key][expected_at])
    mrc_index = np.concatenate([z["source_index"] for z in ours["npz"]])[ours_at]
    np.testing.assert_array_equal(mrc_index, expected["mrc_index"][expected_at])


@pytest.mark.parametrize("case", golden_cases("cs_indexed", "cs_job"))
def test_golden_case_npz_keys_and_grid(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _run_case(case, tmp_path, monkeypatch)
    info = json.loads((GOLDEN / case / "case.json").read_text())
    params = read_npz_safely(GOLDEN / case / info["call"]["kwargs"]["params_input"])
    reference = np.load(
        GOLDEN / case / "reference_output/fft/particles_fourier_stack_000000.npz",
        allow_pickle=True,
    )
    stacks = sorted((out / "fft").glob("*.npz"))
    assert [p.name for p in stacks] == [
        f"particles_fourier_stack_{i:06d}.npz" for i in range(len(stacks))
    ]
    for path in stacks:
        ours = np.load(path, allow_pickle=True)
        assert set(reference.files) <= set(ours.files)
        for key in reference.files:
            if key in ("files", "idxs", "ref_pixel_size"):
                continue  # per-stack slices / the source value (behaviour.md)
            assert ours[key].dtype == reference[key].dtype, key
        for key in GRID_KEYS:
            expected = params[key]
            assert isinstance(expected, np.ndarray), key
            assert ours[key].tobytes() == expected.tobytes(), key
            assert ours[key].dtype == expected.dtype
        n_images = int(ours["n_images"])
        for key in (
            *LENS_KEYS,
            "files",
            "idxs",
            "source_row",
            "source_index",
            "source_file",
        ):
            assert len(ours[key]) == n_images, key


def test_reference_output_untouched(tmp_path: Path) -> None:
    # The golden folders are read-only inputs: a run into a copy works the same.
    case = tmp_path / "case"
    shutil.copytree(GOLDEN / "cs_indexed_prefixed" / "input", case / "input")
    report = cryolike_convert.convert_particle_stacks_from_indexed_cryosparc_file(
        case / "input/params.npz",
        case / "input/J9_particles_exported.cs",
        folder_cryosparc=case / "input/J3/imported",
        folder_output=tmp_path / "out",
        batch_size=8,
        flag_plots=False,
    )
    assert report.n_converted == 20
    assert [s["n_images"] for s in report.stacks] == [8, 8, 4]
