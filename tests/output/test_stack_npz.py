"""The per-stack npz contract: CryoLike's keys, None-able members, dtypes and shapes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from cryolike_convert.formats.npz import OBJECT_MEMBER, read_npz_safely, write_npz
from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.metadata import ParticleMetadata
from cryolike_convert.output.stack_npz import (
    LENS_KEYS,
    LENS_TABLE,
    MAY_BE_NONE,
    REQUIRED_NPZ_KEYS,
    member_problem,
    stack_npz_arrays,
)
from cryolike_convert.readers.cryosparc.indexed import read_indexed_cryosparc
from cryolike_convert.readers.paths import resolve_stack_paths
from cryolike_convert.readers.relion.indexed import read_indexed_star
from cryolike_convert.testing import make_cryosparc_project, make_relion_project

# CryoLike's LensDescriptor fields, in its order (shared/reference/cryolike_format.md §4.1).
CRYOLIKE_LENS_KEYS = [
    "defocusU",
    "defocusV",
    "defocusAngle",
    "phaseShift",
    "sphericalAberration",
    "voltage",
    "amplitudeContrast",
    "angleRotation",
    "angleTilt",
    "anglePsi",
    "ref_pixel_size",
    "files",
    "idxs",
    "ctfBfactor",
    "ctfScalefactor",
]
# CryoLike's ImageDescriptor npz keys (§1.3).
CRYOLIKE_DESCRIPTOR_KEYS = [
    "n_pixels",
    "pixel_size",
    "radius_max",
    "dist_radii",
    "n_inplanes",
    "precision",
    "viewing_distance",
    "atom_radii",
    "atom_selection",
    "use_protein_residue_model",
    "atom_shape",
]
PER_IMAGE = ["defocusU", "defocusV", "defocusAngle", "phaseShift"]
SCALARS = {
    "sphericalAberration": "spherical_aberration_mm",
    "voltage": "voltage_kv",
    "amplitudeContrast": "amplitude_contrast_fraction",
}


def cryosparc_rows(root: Path) -> tuple[ImageDescriptor, ParticleMetadata]:
    project = make_cryosparc_project(root, n_particles=12, n_stacks=2)
    result = read_indexed_cryosparc(project.cs_file)
    rows, _ = resolve_stack_paths(result.metadata, None, result.search_dirs)
    return ImageDescriptor.load(project.params), rows


def star_rows(root: Path) -> tuple[ImageDescriptor, ParticleMetadata]:
    project = make_relion_project(root, n_particles=10)
    result = read_indexed_star(project.star_file)
    rows, _ = resolve_stack_paths(result.metadata, None, result.search_dirs)
    return ImageDescriptor.load(project.params), rows


Reader = Callable[[Path], tuple[ImageDescriptor, ParticleMetadata]]


def round_trip(arrays: dict[str, np.ndarray], path: Path) -> dict[str, object]:
    with open(path, "wb") as handle:
        write_npz(handle, arrays)
    return read_npz_safely(path)


def test_lens_keys_are_cryolikes_fifteen_in_order() -> None:
    assert list(LENS_KEYS) == CRYOLIKE_LENS_KEYS
    assert [key.name for key in LENS_TABLE] == CRYOLIKE_LENS_KEYS
    assert set(REQUIRED_NPZ_KEYS) == {
        *CRYOLIKE_DESCRIPTOR_KEYS,
        *CRYOLIKE_LENS_KEYS,
        "n_images",
    }
    assert set(MAY_BE_NONE) == {
        "atom_radii",
        "angleRotation",
        "angleTilt",
        "anglePsi",
        "ref_pixel_size",
        "ctfBfactor",
        "ctfScalefactor",
    }


@pytest.mark.parametrize("reader", [cryosparc_rows, star_rows])
def test_every_member_passes_the_checker_after_a_round_trip(
    tmp_path: Path, reader: Reader
) -> None:
    descriptor, rows = reader(tmp_path / "project")
    part = rows.take(np.array([5, 1, 3]))
    arrays = stack_npz_arrays(descriptor, part, 1.7, stack_range=(4, 7))
    members = round_trip(arrays, tmp_path / "stack.npz")
    assert set(REQUIRED_NPZ_KEYS) <= set(members)
    for key, value in members.items():
        assert member_problem(key, value, 3) is None, key
    assert members["n_images"] == 3
    assert (members["stack_start"], members["stack_end"]) == (4, 7)


def test_descriptor_members_are_the_params_files_bits(tmp_path: Path) -> None:
    descriptor, rows = cryosparc_rows(tmp_path / "project")
    arrays = stack_npz_arrays(descriptor, rows, None)
    stored = read_npz_safely(tmp_path / "project" / "params.npz")
    for key in CRYOLIKE_DESCRIPTOR_KEYS:
        if stored[key] is OBJECT_MEMBER:
            assert arrays[key].dtype == object
            continue
        value = stored[key]
        assert isinstance(value, np.ndarray)
        assert arrays[key].dtype == value.dtype, key
        assert arrays[key].tobytes() == value.tobytes(), key


def test_per_image_members_hold_exactly_the_stacks_rows(tmp_path: Path) -> None:
    descriptor, rows = cryosparc_rows(tmp_path / "project")
    positions = np.array([7, 2, 11])
    arrays = stack_npz_arrays(descriptor, rows.take(positions), None)
    columns = {
        "defocusU": rows.defocus_u_angstrom,
        "defocusV": rows.defocus_v_angstrom,
        "defocusAngle": rows.defocus_angle_rad,
        "phaseShift": rows.phase_shift_rad,
        "files": rows.stored_path,
        "idxs": rows.stored_index,
    }
    for key, column in columns.items():
        assert arrays[key].dtype == column.dtype, key  # the source dtype is kept
        assert arrays[key].tolist() == [column[i] for i in positions.tolist()], key
    assert arrays["defocusU"].dtype == np.float32
    assert arrays["source_row"].tolist() == rows.source_row[positions].tolist()
    assert rows.uid is not None
    assert arrays["source_uid"].tolist() == rows.uid[positions].tolist()
    assert arrays["source_file"].tolist() == [rows.stack_paths()[i] for i in positions]
    assert arrays["source_index"].tolist() == rows.stack_index[positions].tolist()
    assert "stack_start" not in arrays


def test_scalar_members_take_the_single_value(tmp_path: Path) -> None:
    descriptor, rows = cryosparc_rows(tmp_path / "project")
    arrays = stack_npz_arrays(descriptor, rows.take(np.array([3, 4])), None)
    for key, column in SCALARS.items():
        first = getattr(rows, column)[0]
        assert arrays[key].shape == (), key
        assert arrays[key].dtype == np.float64, key
        # The float32 value widened, as CryoLike's float(row 0) does: 2.7f → 2.700000047...
        assert arrays[key].item() == float(np.float32(first)), key
    assert arrays["sphericalAberration"].item() == float(np.float32(2.7))


def test_scalar_members_are_row_zeros_value_not_a_mixture(tmp_path: Path) -> None:
    # The checks make the value unique per run; the writer takes row 0, as CryoLike.
    descriptor, rows = cryosparc_rows(tmp_path / "project")
    part = rows.take(np.array([0, 1, 2]))
    part.voltage_kv[:] = np.array([300.0, 200.0, 100.0], dtype=np.float32)
    arrays = stack_npz_arrays(descriptor, part, None)
    assert arrays["voltage"].item() == 300.0


def test_absent_columns_become_none_members(tmp_path: Path) -> None:
    descriptor, rows = cryosparc_rows(tmp_path / "project")
    arrays = stack_npz_arrays(descriptor, rows, None)
    absent = [
        "angleRotation",
        "angleTilt",
        "anglePsi",
        "ref_pixel_size",
        "ctfBfactor",
        "ctfScalefactor",
    ]
    for key in absent:
        assert arrays[key].dtype == object, key
        assert arrays[key].shape == (), key
        assert arrays[key].item() is None, key
    members = round_trip(arrays, tmp_path / "stack.npz")
    for key in absent:
        assert members[key] is OBJECT_MEMBER, key
    # CryoLike reads the same members back as None.
    with np.load(tmp_path / "stack.npz", allow_pickle=True) as loaded:
        for key in absent:
            assert loaded[key].item() is None, key


def test_present_optional_columns_are_arrays(tmp_path: Path) -> None:
    descriptor, rows = star_rows(tmp_path / "project")
    arrays = stack_npz_arrays(descriptor, rows, 1.7)
    assert rows.angle_rotation_rad is not None
    np.testing.assert_array_equal(arrays["angleRotation"], rows.angle_rotation_rad)
    for key in ("angleTilt", "anglePsi", "ctfBfactor", "ctfScalefactor"):
        assert arrays[key].shape == (len(rows),), key
        assert arrays[key].dtype.kind == "f", key
    assert arrays["ref_pixel_size"].tolist() == [1.7, 1.7]
    assert arrays["ref_pixel_size"].dtype == np.float64
    assert arrays["files"].dtype.kind == "U"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("defocusU", np.zeros(4, dtype=np.float32)),  # wrong length
        ("defocusU", np.zeros(3, dtype=np.int64)),  # wrong kind
        ("defocusU", np.zeros((3, 1), dtype=np.float64)),  # wrong shape
        ("voltage", np.array([300.0])),  # a scalar key must be 0-d
        ("voltage", np.array("300")),
        ("files", np.zeros(3)),
        ("idxs", np.zeros(3, dtype=np.float64)),
        ("ref_pixel_size", np.array([1.7])),
        ("n_images", np.array(3.0)),
    ],
)
def test_member_problem_rejects_wrong_dtype_or_shape(
    key: str, value: np.ndarray
) -> None:
    problem = member_problem(key, value, 3)
    assert problem is not None
    assert str(value.dtype) in problem


def test_member_problem_accepts_the_expected_forms() -> None:
    assert member_problem("defocusU", np.zeros(3, dtype=np.float32), 3) is None
    assert member_problem("defocusU", np.zeros(3, dtype=np.float64), 3) is None
    assert member_problem("voltage", np.array(300.0), 3) is None
    assert member_problem("files", np.array([b"a", b"b", b"c"]), 3) is None
    assert member_problem("files", np.array(["a", "b", "c"]), 3) is None
    assert member_problem("idxs", np.arange(3, dtype=np.uint32), 3) is None
    assert member_problem("ref_pixel_size", np.ones(2), 3) is None
    assert member_problem("n_images", np.array(3, dtype=np.int64), 3) is None
    assert member_problem("stack_start", np.array(0, dtype=np.int64), 3) is None


def test_member_problem_on_objects() -> None:
    assert member_problem("angleTilt", OBJECT_MEMBER, 3) is None
    assert member_problem("atom_radii", OBJECT_MEMBER, 3) is None
    assert member_problem("defocusU", OBJECT_MEMBER, 3) == "holds a Python object"
    assert member_problem("voltage", 300.0, 3) == "is not an array"
