"""The shared wrapper step: derived grids, Fourier cropping, selections, the sign."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mrcfile
import numpy as np
import pytest
import torch

from cryolike_convert import compat
from cryolike_convert.errors import MetadataError, OutputExistsError
from cryolike_convert.image_descriptor import DerivedGrid, ImageDescriptor
from cryolike_convert.review.verify import verify_output
from cryolike_convert.testing import (
    ExampleProject,
    make_cryosparc_job,
    make_cryosparc_project,
    make_relion_project,
)
from cryolike_convert.transform.preprocess import center_images, fourier_crop_images
from tests.conftest import load_output


@pytest.fixture
def project(tmp_path: Path) -> ExampleProject:
    return make_cryosparc_project(tmp_path / "project", n_particles=20)


def convert(project: ExampleProject, out: Path, **options: Any) -> Any:
    options.setdefault("params_input", DerivedGrid())
    options.setdefault("batch_size", 8)
    return compat.convert_particle_stacks_from_indexed_cryosparc_file(
        file_cs=project.cs_file, folder_output=out, flag_plots=False, **options
    )


def source_images(project: ExampleProject) -> np.ndarray:
    """The stored image of every .cs row, read independently with mrcfile."""
    table = np.load(project.cs_file)
    images = []
    for path, index in zip(table["blob/path"], table["blob/idx"], strict=True):
        with mrcfile.open(project.root / path.decode()) as mrc:
            images.append(np.array(mrc.data[index], dtype=np.float32))
    return np.stack(images)


def test_a_derived_grid_is_written_and_verifiable(
    project: ExampleProject, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    report = convert(project, out)
    assert report.params_file == out / "params.npz"
    written = ImageDescriptor.load(out / "params.npz")
    expected = ImageDescriptor.from_individual_values(
        n_pixels=32, pixel_size=float(np.float32(1.7))
    )
    for key, value in expected.arrays.items():
        if value.dtype != object:
            np.testing.assert_array_equal(written.arrays[key], value)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["inputs"]["params"]["derived"] is True
    assert manifest["inputs"]["params"]["path"] == str(out / "params.npz")
    verified = verify_output(out)
    assert verified.ok, verified.problems
    # the same run with the params file it wrote gives the same stacks
    again = convert(project, tmp_path / "again", params_input=out / "params.npz")
    assert [s["checksums"] for s in again.stacks] == [
        s["checksums"] for s in report.stacks
    ]


def test_double_precision_grid(project: ExampleProject, tmp_path: Path) -> None:
    convert(project, tmp_path / "out", params_input=DerivedGrid(precision="double"))
    assert ImageDescriptor.load(tmp_path / "out" / "params.npz").precision == "double"
    fourier = torch.load(
        tmp_path / "out" / "fft" / "particles_fourier_stack_000000.pt",
        weights_only=True,
    )
    assert fourier.dtype == torch.complex128


def test_a_foreign_params_file_in_the_output_is_left_alone(
    project: ExampleProject, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    mine = ImageDescriptor.from_individual_values(n_pixels=64, pixel_size=1.0)
    mine.save(out / "params.npz")
    before = (out / "params.npz").read_bytes()
    for extra in ({}, {"overwrite": True}):
        with pytest.raises(OutputExistsError, match="not written by a derived-grid"):
            convert(project, out, **extra)
    assert (out / "params.npz").read_bytes() == before
    assert not (out / "manifest.json").exists()


def test_a_derived_params_file_follows_its_run(
    project: ExampleProject, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    convert(project, out)
    convert(project, out, skip_exist=True)  # resumed: same grid, same file
    report = convert(project, out, overwrite=True, downsample_box=16)
    assert ImageDescriptor.load(report.params_file).n_pixels == (16, 16)
    # replaced by a run on a given grid: the derived file goes with its run
    convert(project, out, overwrite=True, params_input=project.params)
    assert not (out / "params.npz").exists()


def test_a_failed_run_removes_the_params_file_it_wrote(
    project: ExampleProject, tmp_path: Path
) -> None:
    flat = np.load(project.cs_file)
    stack = project.root / flat["blob/path"][0].decode()
    with mrcfile.open(stack, mode="r+") as mrc:
        mrc.data[int(flat["blob/idx"][0])] = 1.0  # a flat image
    with pytest.raises(Exception, match="flat"):
        convert(project, tmp_path / "out")
    assert not (tmp_path / "out" / "params.npz").exists()


def test_fourier_cropping_to_a_box(project: ExampleProject, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = convert(project, out, downsample_box=20)
    pixel = float(np.float32(1.7)) * 32 / 20
    assert ImageDescriptor.load(out / "params.npz").pixel_size_angstrom == (
        pixel,
        pixel,
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["pixel_size"]["output_angstrom"] == pytest.approx(pixel)
    assert manifest["options"]["downsample_box"] == 20
    phys = load_output(out)["phys"]
    expected = center_images(fourier_crop_images(source_images(project), 20))
    np.testing.assert_allclose(phys, expected, rtol=0, atol=1e-6)
    assert report.n_converted == 20
    # a params file for the cropped grid is accepted, one for the pooled grid not
    fits = ImageDescriptor.from_individual_values(n_pixels=20, pixel_size=pixel)
    convert(project, tmp_path / "fits", params_input=fits, downsample_box=20)
    with pytest.raises(Exception, match="Fourier-cropped to 20 px"):
        convert(
            project,
            tmp_path / "pooled",
            params_input=ImageDescriptor.from_individual_values(
                n_pixels=16, pixel_size=3.4
            ),
            downsample_box=20,
        )


def test_rows_and_uids_select_particles(
    project: ExampleProject, tmp_path: Path
) -> None:
    whole = load_output(_converted(project, tmp_path / "all"))
    ind = tmp_path / "ind.txt"
    ind.write_text("17\n2\n9\n")
    out = tmp_path / "ind"
    report = convert(project, out, ind=ind)
    assert report.n_converted == 3
    part = load_output(out)
    np.testing.assert_array_equal(part["phys"], whole["phys"][[2, 9, 17]])
    assert part["npz"][0]["source_row"].tolist() == [2, 9, 17]
    selection = json.loads((out / "manifest.json").read_text())["inputs"]["selection"]
    assert selection["kind"] == "ind"
    assert (selection["n_rows"], selection["n_selected"]) == (20, 3)
    assert selection["unselected_rows"] == [[0, 2], [3, 9], [10, 17], [18, 20]]
    assert selection["file"]["path"] == str(ind.resolve())
    uids = np.load(project.cs_file)["uid"][[6, 5]]  # file order does not matter
    np.save(tmp_path / "uids.npy", uids)
    by_uid = convert(project, tmp_path / "uids", uids=tmp_path / "uids.npy")
    assert by_uid.n_converted == 2
    npz = load_output(tmp_path / "uids")["npz"][0]
    assert npz["source_row"].tolist() == [5, 6]
    assert npz["source_uid"].tolist() == uids[::-1].tolist()


def _converted(project: ExampleProject, out: Path) -> Path:
    convert(project, out, batch_size=100)
    return out


def test_selection_in_a_job_folder_counts_its_rows(tmp_path: Path) -> None:
    job = make_cryosparc_job(tmp_path / "p", counts=(3, 3))
    report = compat.convert_particle_stacks_from_cryosparc_job_directory(
        DerivedGrid(),
        folder_cryosparc=job.job_dir,  # the job folder itself
        folder_output=tmp_path / "out",
        flag_plots=False,
        ind=[0, 4],
    )
    assert report.n_converted == 2
    phys = load_output(tmp_path / "out")["phys"]
    np.testing.assert_allclose(
        phys, center_images(job.images[[0, 4]].copy()), rtol=0, atol=1e-6
    )


def test_apply_sign_negates_the_images(project: ExampleProject, tmp_path: Path) -> None:
    plain = load_output(_converted(project, tmp_path / "plain"))
    out = tmp_path / "signed"
    convert(project, out, batch_size=100, apply_sign=True)
    signed = load_output(out)
    np.testing.assert_array_equal(signed["phys"], -plain["phys"])  # blob/sign = -1
    np.testing.assert_array_equal(signed["fourier"], -plain["fourier"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["image_sign"] == {"values": [-1.0], "applied": True}
    assert json.loads((tmp_path / "plain" / "manifest.json").read_text())[
        "image_sign"
    ] == {"values": [-1.0], "applied": False}


def test_apply_sign_needs_a_sign(tmp_path: Path) -> None:
    relion = make_relion_project(tmp_path / "relion")
    with pytest.raises(MetadataError, match="no image sign") as info:
        compat.convert_particle_stacks_from_indexed_star_file(
            DerivedGrid(),
            relion.star_file,
            folder_output=tmp_path / "out",
            apply_sign=True,
        )
    assert "--apply-sign" in info.value.for_cli()
