"""CryoSPARC job-directory conversion (the seed's second paradigm)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import cryolike_convert
from cryolike_convert.compat import (
    convert_particle_stacks_from_cryosparc_job_directory as convert,
)
from cryolike_convert.errors import InputFileError, MetadataError
from cryolike_convert.file_conversions.particle_stacks_wrappers import (
    convert_particle_stacks_from_cryosparc_job_directory,
)
from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.testing import ExampleJob, make_cryosparc_job
from cryolike_convert.transform.preprocess import center_images, downsample_images
from tests.conftest import load_output


def run(job: ExampleJob, out: Path, **kwargs: Any) -> Any:
    kwargs.setdefault("flag_plots", False)
    kwargs.setdefault("batch_size", 5)
    kwargs.setdefault("params_input", job.params)
    return convert(
        folder_cryosparc=job.project,
        job_number=job.job_number,
        folder_output=out,
        **kwargs,
    )


def test_import_paths() -> None:
    assert convert_particle_stacks_from_cryosparc_job_directory is convert
    assert (
        cryolike_convert.convert_particle_stacks_from_cryosparc_job_directory is convert
    )


def test_restack_is_preferred_over_downsample(tmp_path: Path) -> None:
    job = make_cryosparc_job(tmp_path / "p", folders=("restack", "downsample"))
    report = run(job, tmp_path / "out", batch_size=1024)
    assert report.n_converted == 12
    output = load_output(tmp_path / "out")
    np.testing.assert_array_equal(output["phys"], center_images(job.images.copy()))
    files = np.concatenate([z["files"] for z in output["npz"]])
    assert set(files) == {f"restack/batch_00000{i}_restacked.mrc" for i in range(3)}
    rows = np.concatenate([z["source_row"] for z in output["npz"]])
    np.testing.assert_array_equal(rows, np.arange(12))


def test_downsample_folder_stops_at_the_gap(tmp_path: Path) -> None:
    job = make_cryosparc_job(
        tmp_path / "p", counts=(4, 4, 4, 4, 4), folders=("downsample",), missing=(3,)
    )
    report = run(job, tmp_path / "out")
    assert report.n_converted == 12
    assert report.n_without_image == 8
    assert any("batch_000004_downsample.mrc" in w for w in report.warnings)
    manifest = json.loads((tmp_path / "out/manifest.json").read_text())
    assert manifest["inputs"]["ignored_stacks"][0].endswith(
        "batch_000004_downsample.mrc"
    )
    assert manifest["rows_without_images"][0]["rows"] == [[12, 20]]
    assert manifest["totals"]["n_rows"] == 20


def test_batch_size_and_n_stacks_max(tmp_path: Path) -> None:
    job = make_cryosparc_job(tmp_path / "p")
    report = run(job, tmp_path / "out", batch_size=4, n_stacks_max=2)
    assert [s["n_images"] for s in report.stacks] == [4, 4]
    assert report.n_unconverted == 4


def test_downsampling_with_halved_grid(tmp_path: Path) -> None:
    job = make_cryosparc_job(tmp_path / "p", box=64)
    params = ImageDescriptor.from_individual_values(32, 3.4).save(tmp_path / "half.npz")
    report = run(
        job,
        tmp_path / "out",
        params_input=params,
        downsample_factor=2,
        downsample_type="mean",
    )
    assert report.n_converted == 12
    output = load_output(tmp_path / "out")
    assert output["phys"].shape == (12, 32, 32)
    expected = center_images(downsample_images(job.images.copy(), 2, "mean"))
    np.testing.assert_array_equal(output["phys"], expected)
    assert output["fourier"].shape == (12, 33, 64)


def test_pixel_size_from_mrc_header(tmp_path: Path) -> None:
    job = make_cryosparc_job(tmp_path / "p", pixel_size=2.0)
    report = run(job, tmp_path / "out")
    assert report.pixel_size.source == "mrc_header"
    assert report.pixel_size.angstrom == pytest.approx(2.0)


def test_ctf_joined_from_particles_file(tmp_path: Path) -> None:
    job = make_cryosparc_job(tmp_path / "p", ctf_in_passthrough=False)
    report = run(job, tmp_path / "out", batch_size=12)
    assert report.n_converted == 12
    passthrough = np.load(
        job.job_dir / "J4_passthrough_particles.cs", allow_pickle=False
    )
    particles = np.load(job.job_dir / "J4_particles.cs", allow_pickle=False)
    order = np.argsort(particles["uid"])
    expected = particles["ctf/df1_A"][order][
        np.searchsorted(particles["uid"][order], passthrough["uid"])
    ]
    output = load_output(tmp_path / "out")
    np.testing.assert_array_equal(
        np.concatenate([z["defocusU"] for z in output["npz"]]), expected
    )


def test_missing_job_folder(tmp_path: Path) -> None:
    job = make_cryosparc_job(tmp_path / "p")
    with pytest.raises(InputFileError, match=r"J9: job folder not found"):
        convert(job.params, job.project, 9, tmp_path / "out", flag_plots=False)


def test_missing_cs(tmp_path: Path) -> None:
    job = make_cryosparc_job(tmp_path / "p")
    (job.job_dir / "J4_passthrough_particles.cs").unlink()
    with pytest.raises(InputFileError, match=r"J4_passthrough_particles.cs"):
        run(job, tmp_path / "out")


def test_no_image_folder(tmp_path: Path) -> None:
    job = make_cryosparc_job(tmp_path / "p")
    (job.job_dir / "restack").rename(job.job_dir / "elsewhere")
    with pytest.raises(InputFileError, match=r"restack or .*downsample"):
        run(job, tmp_path / "out")


def test_fewer_rows_than_images(tmp_path: Path) -> None:
    job = make_cryosparc_job(tmp_path / "p", n_rows=10)
    with pytest.raises(MetadataError, match=r"has 10 rows but .* hold 12 images"):
        run(job, tmp_path / "out")
    assert not (tmp_path / "out").exists()
