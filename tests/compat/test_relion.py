"""RELION STAR inputs: reader, optics join, pixel sizes, paired mode, errors."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import mrcfile
import numpy as np
import pytest
import torch

from cryolike_convert import (
    convert_particle_stacks_from_indexed_cryosparc_file,
    convert_particle_stacks_from_indexed_star_file,
    convert_particle_stacks_from_paired_star_and_mrc_files,
)
from cryolike_convert.errors import (
    ConversionWarning,
    ImageStackError,
    InputFileError,
    InvalidFieldError,
    MetadataError,
    MissingFieldError,
    PixelSizeError,
)
from cryolike_convert.file_conversions import particle_stacks_wrappers
from cryolike_convert.options import OptionError
from cryolike_convert.readers.relion.indexed import read_star_metadata, read_star_table
from cryolike_convert.testing import (
    cs_table_to_star,
    make_cryosparc_project,
    make_relion_project,
    write_mrc_stack,
    write_paired_star_inputs,
    write_star,
)


def _stacks(folder: Path, kind: str = "fourier") -> np.ndarray:
    pattern = "fft/*.pt" if kind == "fourier" else "phys/*.pt"
    return np.concatenate(
        [
            torch.load(path, weights_only=True).numpy()
            for path in sorted(folder.glob(pattern))
        ]
    )


def _npz(folder: Path) -> list[dict[str, np.ndarray]]:
    loaded = []
    for path in sorted(folder.glob("fft/*.npz")):
        with np.load(path, allow_pickle=True) as data:
            loaded.append(dict(data))
    return loaded


def _rewrite_particles(star: Path, **changes: object) -> Path:
    """Rewrite a 3.1 STAR with some particle columns replaced (None drops one)."""
    import starfile

    blocks = starfile.read(star, always_dict=True)
    for label, value in changes.items():
        if value is None:
            blocks["particles"] = blocks["particles"].drop(columns=label)
        else:
            blocks["particles"][label] = value
    return write_star(
        star, {name: frame.to_dict("list") for name, frame in blocks.items()}
    )


# --- reading -----------------------------------------------------------------


def test_read_indexed_star_columns(tmp_path: Path) -> None:
    project = make_relion_project(tmp_path, n_particles=9)
    metadata = read_star_metadata(project.star_file)
    assert len(metadata) == 9
    np.testing.assert_array_equal(metadata.source_row, np.arange(9))
    first = project.image_names[0]
    number, stack = first.split("@")
    assert metadata.stored_path[0] == stack
    assert metadata.stored_path.dtype.kind == "U"
    assert metadata.stack_index[0] == int(number) - 1
    assert metadata.stored_index.dtype == np.int64
    import starfile

    table = starfile.read(project.star_file, always_dict=True)["particles"]
    np.testing.assert_array_equal(
        metadata.defocus_angle_rad, np.radians(table["rlnDefocusAngle"].to_numpy())
    )
    np.testing.assert_array_equal(
        metadata.angle_psi_rad, np.radians(table["rlnAnglePsi"].to_numpy())
    )
    assert metadata.defocus_u_angstrom.dtype == np.float64
    np.testing.assert_array_equal(metadata.voltage_kv, np.full(9, 300.0))
    assert metadata.pixel_size_angstrom is not None
    np.testing.assert_allclose(metadata.pixel_size_angstrom, 1.7)


def test_relion30_detector_magnification_pixel_size(tmp_path: Path) -> None:
    project = make_relion_project(
        tmp_path, style="3.0", header_pixel_size=0.0, n_particles=8
    )
    table = read_star_table(project.star_file)
    assert table.pixel_size_source == "rlnDetectorPixelSize·1e4/rlnMagnification"
    assert table.metadata.pixel_size_angstrom is not None
    np.testing.assert_allclose(table.metadata.pixel_size_angstrom, 1.7, rtol=1e-9)
    report = convert_particle_stacks_from_indexed_star_file(
        project.params, project.star_file, folder_output=tmp_path / "out",
        flag_plots=False, project_dir=project.root,
    )  # fmt: skip
    assert report.pixel_size.source == "metadata"
    assert report.pixel_size.angstrom == pytest.approx(1.7)
    assert report.n_converted == 8


def test_two_optics_groups_join(tmp_path: Path) -> None:
    rows = 6
    write_star(
        tmp_path / "p.star",
        {
            "optics": {
                "rlnOpticsGroup": [1, 2],
                "rlnVoltage": [300.0, 200.0],
                "rlnSphericalAberration": [2.7, 2.0],
                "rlnAmplitudeContrast": [0.1, 0.07],
                "rlnImagePixelSize": [1.7, 1.7],
            },
            "particles": {
                "rlnImageName": [f"{i + 1:06d}@s.mrcs" for i in range(rows)],
                "rlnOpticsGroup": [2, 1, 2, 1, 1, 2],
                "rlnDefocusU": np.full(rows, 1e4),
                "rlnDefocusV": np.full(rows, 9e3),
                "rlnDefocusAngle": np.zeros(rows),
                "rlnSphericalAberration": [2.7, 2.7, 2.5, 2.7, 2.7, 2.5],
            },
        },
    )
    # No rlnPhaseShift: 0 (no phase plate), recorded but not warned about.
    table = read_star_table(tmp_path / "p.star")
    metadata = table.metadata
    assert table.defaulted["rlnPhaseShift"] == 0.0
    np.testing.assert_array_equal(
        metadata.voltage_kv, [200.0, 300.0, 200.0, 300.0, 300.0, 200.0]
    )
    np.testing.assert_array_equal(
        metadata.amplitude_contrast_fraction, [0.07, 0.1, 0.07, 0.1, 0.1, 0.07]
    )
    # Present in both blocks: the particle's own value wins.
    np.testing.assert_array_equal(
        metadata.spherical_aberration_mm, [2.7, 2.7, 2.5, 2.7, 2.7, 2.5]
    )
    np.testing.assert_array_equal(metadata.phase_shift_rad, np.zeros(rows))


def test_defaults_are_recorded(tmp_path: Path) -> None:
    project = make_relion_project(tmp_path, n_particles=6)
    import starfile

    blocks = starfile.read(project.star_file, always_dict=True)
    optics = blocks["optics"].drop(columns="rlnAmplitudeContrast")
    particles = blocks["particles"].drop(
        columns=["rlnPhaseShift", "rlnCtfBfactor", "rlnCtfScalefactor"]
    )
    write_star(
        project.star_file,
        {"optics": optics.to_dict("list"), "particles": particles.to_dict("list")},
    )
    with pytest.warns(ConversionWarning, match="rlnAmplitudeContrast.*0.1"):
        report = convert_particle_stacks_from_indexed_star_file(
            project.params, project.star_file, folder_output=tmp_path / "out",
            flag_plots=False, project_dir=project.root,
        )  # fmt: skip
    manifest = json.loads(report.manifest_path.read_text())
    assert manifest["inputs"]["defaults"] == {
        "rlnPhaseShift": 0.0,
        "rlnAmplitudeContrast": 0.1,
        "rlnCtfBfactor": 0.0,
        "rlnCtfScalefactor": 1.0,
    }
    stack = _npz(tmp_path / "out")[0]
    assert float(stack["amplitudeContrast"]) == 0.1
    np.testing.assert_array_equal(stack["phaseShift"], np.zeros(6))
    np.testing.assert_array_equal(stack["ctfScalefactor"], np.ones(6))


# --- conversion --------------------------------------------------------------


def test_indexed_star_output_in_row_order(tmp_path: Path) -> None:
    project = make_relion_project(tmp_path, n_particles=11, n_stacks=3)
    report = convert_particle_stacks_from_indexed_star_file(
        project.params, project.star_file, folder_output=tmp_path / "out",
        batch_size=4, flag_plots=False,
    )  # fmt: skip
    out = tmp_path / "out"
    stacks = _npz(out)
    assert [int(s["n_images"]) for s in stacks] == [4, 4, 3]
    np.testing.assert_array_equal(
        np.concatenate([s["source_row"] for s in stacks]), np.arange(11)
    )
    files = np.concatenate([s["files"] for s in stacks])
    assert files.dtype.kind == "U"
    assert [f"{i + 1:06d}@{f}" for f, i in zip(
        files, np.concatenate([s["idxs"] for s in stacks]), strict=True
    )] == project.image_names  # fmt: skip
    assert stacks[0]["angleRotation"].shape == (4,)
    phys = _stacks(out, "phys")
    for row, image in enumerate(project.images):
        centred = image - image.mean()
        centred /= np.abs(centred).max()
        np.testing.assert_allclose(phys[row], centred, atol=1e-6)
    # The project folder was inferred from Select/job010/particles.star.
    manifest = json.loads(report.manifest_path.read_text())
    assert {s["rule"] for s in manifest["stack_files"]} == {"project_dir"}
    assert manifest["inputs"]["project_dir"] == str(project.root.resolve())


def test_cs_and_star_give_identical_stacks(tmp_path: Path) -> None:
    project = make_cryosparc_project(tmp_path / "cs", n_particles=20, n_stacks=3)
    with open(project.cs_file, "rb") as handle:
        table = np.load(handle, allow_pickle=False)
    star = cs_table_to_star(table, tmp_path / "cs" / "particles.star", 1.7)
    convert_particle_stacks_from_indexed_cryosparc_file(
        project.params, project.cs_file, folder_output=tmp_path / "out_cs",
        batch_size=7, flag_plots=False, project_dir=project.root,
    )  # fmt: skip
    convert_particle_stacks_from_indexed_star_file(
        project.params, star, folder_output=tmp_path / "out_star", batch_size=7,
        flag_plots=False, project_dir=project.root,
    )  # fmt: skip
    for kind in ("fourier", "phys"):
        np.testing.assert_array_equal(
            _stacks(tmp_path / "out_cs", kind), _stacks(tmp_path / "out_star", kind)
        )
    cs_npz, star_npz = _npz(tmp_path / "out_cs"), _npz(tmp_path / "out_star")
    for key in ("defocusU", "defocusAngle", "source_row", "idxs"):
        np.testing.assert_allclose(
            np.concatenate([s[key] for s in star_npz]),
            np.concatenate([s[key] for s in cs_npz]),
            rtol=1e-6,
        )


def test_paired_layout_and_header_pixel_size(tmp_path: Path) -> None:
    mrcs, stars, params = write_paired_star_inputs(tmp_path, sizes=(7, 2, 6))
    report = convert_particle_stacks_from_paired_star_and_mrc_files(
        params, mrcs, stars, folder_output=tmp_path / "out", batch_size=5,
        flag_plots=False,
    )  # fmt: skip
    assert report.pixel_size.source == "mrc_header"
    stacks = _npz(tmp_path / "out")
    assert [int(s["n_images"]) for s in stacks] == [5, 2, 2, 5, 1]
    ranges = [(int(s["stack_start"]), int(s["stack_end"])) for s in stacks]
    assert ranges == [(0, 5), (5, 7), (0, 2), (0, 5), (5, 6)]
    np.testing.assert_array_equal(
        np.concatenate([s["source_row"] for s in stacks]), np.arange(15)
    )
    np.testing.assert_array_equal(
        np.concatenate([s["idxs"] for s in stacks]),
        [0, 1, 2, 3, 4, 5, 6, 0, 1, 0, 1, 2, 3, 4, 5],
    )
    assert str(stacks[2]["files"][0]) == str(mrcs[1])


def test_paired_list_order_is_kept(tmp_path: Path) -> None:
    mrcs, stars, params = write_paired_star_inputs(tmp_path, sizes=(3, 4))
    convert_particle_stacks_from_paired_star_and_mrc_files(
        params, mrcs[::-1], stars[::-1], folder_output=tmp_path / "out",
        flag_plots=False, pixel_size=1.7,
    )  # fmt: skip
    phys = _stacks(tmp_path / "out", "phys")
    with mrcfile.open(mrcs[1]) as mrc:
        first = mrc.data[0].astype(np.float64)
    centred = (first - first.mean()) / np.abs(first - first.mean()).max()
    np.testing.assert_allclose(phys[0], centred, atol=1e-6)
    assert [int(s["n_images"]) for s in _npz(tmp_path / "out")] == [4, 3]


# --- MRC variants ------------------------------------------------------------


def _single_stack_star(folder: Path, n_images: int) -> Path:
    rows = {
        "rlnImageName": [f"{i + 1:06d}@stack.mrcs" for i in range(n_images)],
        "rlnDefocusU": np.full(n_images, 1e4),
        "rlnDefocusV": np.full(n_images, 9e3),
        "rlnDefocusAngle": np.zeros(n_images),
        "rlnPhaseShift": np.zeros(n_images),
        "rlnVoltage": np.full(n_images, 300.0),
        "rlnSphericalAberration": np.full(n_images, 2.7),
        "rlnAmplitudeContrast": np.full(n_images, 0.1),
        "rlnImagePixelSize": np.full(n_images, 1.7),
    }
    return write_star(folder / "particles.star", {"": rows})


def _convert_single(folder: Path, output: str) -> Path:
    make_relion_project(folder / "params_only", n_particles=2, n_stacks=1)
    convert_particle_stacks_from_indexed_star_file(
        folder / "params_only" / "params.npz", folder / "particles.star",
        folder_mrc=folder, folder_output=folder / output, flag_plots=False,
    )  # fmt: skip
    return folder / output


@pytest.mark.parametrize(
    ("dtype", "mode"),
    [("int8", 0), ("int16", 1), ("uint16", 6), ("float16", 12), (">f4", 2)],
)
def test_mrc_modes_match_float32(tmp_path: Path, dtype: str, mode: int) -> None:
    rng = np.random.default_rng(3)
    data = (rng.normal(size=(4, 32, 32)) * 20).clip(-100, 100).astype(dtype)
    if np.dtype(dtype).kind == "u":
        data = np.abs(data.astype(np.float32)).astype(dtype)
    for name, values in (("odd", data), ("ref", data.astype(np.float32))):
        folder = tmp_path / name
        folder.mkdir()
        with mrcfile.new(folder / "stack.mrcs") as mrc:
            mrc.set_data(values)
            mrc.set_image_stack()
            mrc.voxel_size = 1.7
        _single_stack_star(folder, 4)
    with mrcfile.open(tmp_path / "odd" / "stack.mrcs") as mrc:
        assert mrc.data.dtype == np.dtype(dtype)
        assert int(mrc.header.mode) == mode
    odd = _convert_single(tmp_path / "odd", "out")
    ref = _convert_single(tmp_path / "ref", "out")
    np.testing.assert_array_equal(_stacks(odd), _stacks(ref))
    np.testing.assert_array_equal(_stacks(odd, "phys"), _stacks(ref, "phys"))


def test_mrc_without_map_id_is_read_with_warning(tmp_path: Path) -> None:
    images = np.random.default_rng(1).normal(size=(3, 32, 32)).astype(np.float32)
    for name in ("plain", "odd"):
        write_mrc_stack(tmp_path / name / "stack.mrcs", images, 1.7)
        _single_stack_star(tmp_path / name, 3)
    raw = bytearray((tmp_path / "odd" / "stack.mrcs").read_bytes())
    raw[208:212] = b"\0\0\0\0"  # the 'MAP ' id
    (tmp_path / "odd" / "stack.mrcs").write_bytes(bytes(raw))
    with pytest.warns(ConversionWarning, match="Map ID string not found"):
        odd = _convert_single(tmp_path / "odd", "out")
    plain = _convert_single(tmp_path / "plain", "out")
    np.testing.assert_array_equal(_stacks(odd), _stacks(plain))
    manifest = json.loads((odd / "manifest.json").read_text())
    assert len(manifest["warnings"]) == 1
    assert "stack.mrcs: read permissively" in manifest["warnings"][0]
    assert "Map ID" in manifest["warnings"][0]
    assert json.loads((plain / "manifest.json").read_text())["warnings"] == []


# --- errors ------------------------------------------------------------------


def test_missing_optics_group_names_file_and_row(tmp_path: Path) -> None:
    project = make_relion_project(tmp_path, n_particles=5)
    _rewrite_particles(project.star_file, rlnOpticsGroup=[1, 1, 1, 3, 1])
    with pytest.raises(MetadataError, match="rlnOpticsGroup 3") as caught:
        read_star_metadata(project.star_file)
    message = str(caught.value)
    assert str(project.star_file) in message
    assert f"data_particles row 3 (rlnImageName '{project.image_names[3]}')" in message
    assert caught.value.row == 3
    assert caught.value.field == "rlnOpticsGroup"


def test_optics_group_column_missing(tmp_path: Path) -> None:
    project = make_relion_project(tmp_path, n_particles=3)
    _rewrite_particles(project.star_file, rlnOpticsGroup=None)
    with pytest.raises(MissingFieldError, match="data_particles has no rlnOpticsGroup"):
        read_star_metadata(project.star_file)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("000000@Extract/job005/stack_a.mrcs", "below 1"),
        ("-000002@Extract/job005/stack_a.mrcs", "below 1"),
        ("Extract/job005/stack_a.mrcs", "malformed"),
        ("12x@Extract/job005/stack_a.mrcs", "malformed"),
    ],
)
def test_bad_image_name(tmp_path: Path, name: str, problem: str) -> None:
    project = make_relion_project(tmp_path, n_particles=4)
    names = list(project.image_names)
    names[2] = name
    _rewrite_particles(project.star_file, rlnImageName=names)
    with pytest.raises(InvalidFieldError, match=problem) as caught:
        read_star_metadata(project.star_file)
    message = str(caught.value)
    assert str(project.star_file) in message
    assert f"data_particles row 2 (rlnImageName '{name}')" in message
    assert "rlnImageName is" in message
    assert caught.value.row == 2


def test_missing_required_columns_listed_together(tmp_path: Path) -> None:
    project = make_relion_project(tmp_path, n_particles=3)
    _rewrite_particles(project.star_file, rlnDefocusU=None, rlnDefocusAngle=None)
    with pytest.raises(MissingFieldError) as caught:
        read_star_metadata(project.star_file)
    assert str(project.star_file) in str(caught.value)
    assert "rlnDefocusU, rlnDefocusAngle" in str(caught.value)


def test_missing_image_name_column(tmp_path: Path) -> None:
    project = make_relion_project(tmp_path, n_particles=3)
    _rewrite_particles(project.star_file, rlnImageName=None)
    with pytest.raises(MissingFieldError, match="missing column rlnImageName"):
        read_star_metadata(project.star_file)


@pytest.mark.parametrize("value", [np.nan, "abc"])
def test_non_numeric_value_names_row_and_field(tmp_path: Path, value: object) -> None:
    project = make_relion_project(tmp_path, n_particles=4)
    import starfile

    defocus = starfile.read(project.star_file, always_dict=True)["particles"][
        "rlnDefocusV"
    ].tolist()
    defocus[1] = value
    _rewrite_particles(project.star_file, rlnDefocusV=defocus)
    with pytest.raises(InvalidFieldError) as caught:
        read_star_metadata(project.star_file)
    message = str(caught.value)
    assert str(project.star_file) in message
    assert f"data_particles row 1 (rlnImageName '{project.image_names[1]}')" in message
    assert "rlnDefocusV is" in message
    assert caught.value.field == "rlnDefocusV"


def test_bad_pixel_size_names_row(tmp_path: Path) -> None:
    path = _single_stack_star(tmp_path, 3)
    import starfile

    frame = starfile.read(path)
    frame.loc[2, "rlnImagePixelSize"] = 0.0
    write_star(path, {"": frame.to_dict("list")})
    with pytest.raises(InvalidFieldError, match="row 2") as caught:
        read_star_metadata(path)
    assert "rlnImagePixelSize" in str(caught.value)
    assert "000003@stack.mrcs" in str(caught.value)


def test_unreadable_and_unsupported_star_files(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="file not found"):
        read_star_metadata(tmp_path / "absent.star")
    write_star(
        tmp_path / "two.star",
        {"a": {"rlnDefocusU": [1.0]}, "b": {"rlnDefocusU": [2.0]}},
    )
    with pytest.raises(InputFileError, match="data_a, data_b"):
        read_star_metadata(tmp_path / "two.star")


def test_manual_pixel_size_conflicts_with_star(tmp_path: Path) -> None:
    project = make_relion_project(tmp_path, n_particles=3)
    with pytest.raises(PixelSizeError, match=r"pixel_size=2 .*1\.7"):
        convert_particle_stacks_from_indexed_star_file(
            project.params, project.star_file, folder_output=tmp_path / "out",
            pixel_size=2.0, flag_plots=False,
        )  # fmt: skip
    assert not (tmp_path / "out").exists()


def test_missing_stack_is_reported_before_output(tmp_path: Path) -> None:
    project = make_relion_project(tmp_path, n_particles=6)
    project.stacks[1].unlink()
    with pytest.raises(ImageStackError, match=r"stack_b\.mrcs"):
        convert_particle_stacks_from_indexed_star_file(
            project.params, project.star_file, folder_output=tmp_path / "out",
            flag_plots=False,
        )  # fmt: skip
    assert not (tmp_path / "out").exists()


def test_paired_lists_must_have_equal_length(tmp_path: Path) -> None:
    mrcs, stars, params = write_paired_star_inputs(tmp_path, sizes=(3, 4))
    with pytest.raises(OptionError, match=r"2 file.*1"):
        convert_particle_stacks_from_paired_star_and_mrc_files(
            params, mrcs, stars[:1], folder_output=tmp_path / "out"
        )
    assert not (tmp_path / "out").exists()


def test_paired_count_mismatch_before_any_output(tmp_path: Path) -> None:
    mrcs, stars, params = write_paired_star_inputs(tmp_path, sizes=(3, 4))
    # Pair 0 is fine; pair 1's STAR describes 3 images of a 4-image stack.
    other, _, _ = write_paired_star_inputs(tmp_path / "x", sizes=(3, 3))
    with pytest.raises(ImageStackError) as caught:
        convert_particle_stacks_from_paired_star_and_mrc_files(
            params, mrcs, [stars[0], other[1].with_suffix(".star")],
            folder_output=tmp_path / "out", pixel_size=1.7, flag_plots=False,
        )  # fmt: skip
    message = str(caught.value)
    assert "has 3 row(s)" in message
    assert f"{mrcs[1]} holds 4 image(s)" in message
    assert str(other[1].with_suffix(".star")) in message
    assert not (tmp_path / "out").exists()


def test_paired_missing_star_files_listed(tmp_path: Path) -> None:
    mrcs, stars, params = write_paired_star_inputs(tmp_path, sizes=(2, 2))
    stars[0].unlink()
    stars[1].unlink()
    with pytest.raises(InputFileError) as caught:
        convert_particle_stacks_from_paired_star_and_mrc_files(params, mrcs, stars)
    assert str(stars[0]) in str(caught.value)
    assert str(stars[1]) in str(caught.value)


# --- API ---------------------------------------------------------------------


def test_wrapper_signatures_match_the_reference() -> None:
    indexed = inspect.signature(
        particle_stacks_wrappers.convert_particle_stacks_from_indexed_star_file
    )
    assert list(indexed.parameters)[:9] == [
        "params_input", "star_file", "folder_mrc", "folder_output", "batch_size",
        "downsample_factor", "downsample_type", "pixel_size", "flag_plots",
    ]  # fmt: skip
    paired = inspect.signature(
        particle_stacks_wrappers.convert_particle_stacks_from_paired_star_and_mrc_files
    )
    assert list(paired.parameters)[:13] == [
        "params_input", "particle_file_list", "star_file_list", "folder_output",
        "batch_size", "pixel_size", "defocus_angle_is_degree",
        "phase_shift_is_degree", "downsample_factor", "downsample_type",
        "skip_exist", "flag_plots", "overwrite",
    ]  # fmt: skip
    defaults = {k: v.default for k, v in paired.parameters.items()}
    assert defaults["batch_size"] == 1024
    assert defaults["defocus_angle_is_degree"] is True
    assert defaults["flag_plots"] is True
    assert indexed.parameters["folder_mrc"].default == ""
    assert indexed.parameters["skip_exist"].kind is inspect.Parameter.KEYWORD_ONLY


def test_paired_missing_stack_error_or_skip(tmp_path: Path) -> None:
    mrcs, stars, params = write_paired_star_inputs(tmp_path, sizes=(3, 4))
    mrcs[0].unlink()
    with pytest.raises(ImageStackError, match="stack file not found") as caught:
        convert_particle_stacks_from_paired_star_and_mrc_files(
            params, mrcs, stars, folder_output=tmp_path / "out", flag_plots=False
        )
    assert str(mrcs[0]) in str(caught.value)
    assert not (tmp_path / "out").exists()
    report = convert_particle_stacks_from_paired_star_and_mrc_files(
        params, mrcs, stars, folder_output=tmp_path / "out", flag_plots=False,
        on_missing="skip",
    )  # fmt: skip
    assert report.n_converted == 4
    assert [item["row"] for item in report.skipped] == [0, 1, 2]
    stack = _npz(tmp_path / "out")[0]
    np.testing.assert_array_equal(stack["source_row"], [3, 4, 5, 6])
    assert (int(stack["stack_start"]), int(stack["stack_end"])) == (0, 4)
