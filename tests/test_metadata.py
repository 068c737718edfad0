"""ParticleMetadata: column-length validation, row selection, file tables, labels."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cryolike_convert.errors import MetadataError
from cryolike_convert.metadata import (
    OPTIONAL_COLUMNS,
    ParticleMetadata,
    concatenate_metadata,
    decode_text,
)

REQUIRED_COLUMNS = (
    "source_row",
    "stored_path",
    "stored_index",
    "stack_index",
    "defocus_u_angstrom",
    "defocus_v_angstrom",
    "defocus_angle_rad",
    "phase_shift_rad",
    "voltage_kv",
    "spherical_aberration_mm",
    "amplitude_contrast_fraction",
)
# Every per-row column, written out here rather than taken from the dataclass.
ALL_COLUMNS = (
    *REQUIRED_COLUMNS,
    "pixel_size_angstrom",
    "uid",
    "sign",
    "angle_rotation_rad",
    "angle_tilt_rad",
    "angle_psi_rad",
    "ctf_bfactor",
    "ctf_scalefactor",
    "stack_file_index",
    "group",
)


def columns(n_rows: int, seed: int = 0, optional: bool = True) -> dict[str, Any]:
    """Random per-row columns of ``n_rows`` rows (every optional one when asked)."""
    rng = np.random.default_rng(seed)
    values: dict[str, Any] = {
        "source_row": rng.permutation(n_rows).astype(np.int64) + 100,
        "stored_path": np.array(
            [f">J3/stack_{i}.mrc".encode() for i in rng.integers(0, 3, n_rows)]
        ),
        "stored_index": rng.integers(0, 50, n_rows).astype(np.uint32),
        "defocus_u_angstrom": rng.uniform(8000, 20000, n_rows).astype(np.float32),
        "defocus_v_angstrom": rng.uniform(8000, 20000, n_rows).astype(np.float32),
        "defocus_angle_rad": rng.uniform(-1.5, 1.5, n_rows).astype(np.float32),
        "phase_shift_rad": np.zeros(n_rows, dtype=np.float32),
        "voltage_kv": np.full(n_rows, 300.0, dtype=np.float32),
        "spherical_aberration_mm": np.full(n_rows, 2.7, dtype=np.float32),
        "amplitude_contrast_fraction": np.full(n_rows, 0.1, dtype=np.float32),
    }
    values["stack_index"] = values["stored_index"].astype(np.int64)
    if optional:
        values |= {
            "pixel_size_angstrom": np.full(n_rows, 1.7, dtype=np.float32),
            "uid": rng.integers(1, 2**62, n_rows, dtype=np.uint64),
            "sign": np.full(n_rows, -1.0, dtype=np.float32),
            "angle_rotation_rad": rng.uniform(-3, 3, n_rows),
            "angle_tilt_rad": rng.uniform(0, 3, n_rows),
            "angle_psi_rad": rng.uniform(-3, 3, n_rows),
            "ctf_bfactor": rng.uniform(0, 10, n_rows),
            "ctf_scalefactor": np.ones(n_rows),
            "stack_file_index": rng.integers(-1, 3, n_rows).astype(np.int64),
            "group": rng.integers(0, 2, n_rows).astype(np.int64),
        }
    return values


def make_metadata(n_rows: int, seed: int = 0, **changes: Any) -> ParticleMetadata:
    values = columns(n_rows, seed)
    values["stack_files"] = ("/data/a.mrc", "/data/b.mrc", "/data/c.mrc")
    values |= changes
    return ParticleMetadata(source_path=Path("/data/J5/particles.cs"), **values)


def test_optional_columns_are_the_documented_ones() -> None:
    assert set(OPTIONAL_COLUMNS) == set(ALL_COLUMNS) - set(REQUIRED_COLUMNS)
    metadata = ParticleMetadata(source_path=Path("x.cs"), **columns(4, optional=False))
    for name in OPTIONAL_COLUMNS:
        assert getattr(metadata, name) is None, name


def test_every_column_of_the_right_length_is_accepted() -> None:
    metadata = make_metadata(9)
    assert len(metadata) == 9
    for name in ALL_COLUMNS:
        assert len(getattr(metadata, name)) == 9, name


@pytest.mark.parametrize("column", ALL_COLUMNS[1:])
@pytest.mark.parametrize("delta", [-1, 1])
def test_a_column_of_another_length_is_refused_naming_it(
    column: str, delta: int
) -> None:
    values = columns(6)
    values[column] = np.resize(values[column], 6 + delta)
    with pytest.raises(MetadataError) as caught:
        ParticleMetadata(source_path=Path("/data/particles.cs"), **values)
    assert caught.value.field == column
    assert caught.value.path == Path("/data/particles.cs")
    assert column in str(caught.value)
    assert str(6 + delta) in str(caught.value)
    assert "particles.cs" in str(caught.value)


def test_take_selects_every_column_in_the_given_order() -> None:
    metadata = make_metadata(20, seed=3)
    rows = np.array([17, 0, 5, 5, 12])
    taken = metadata.take(rows)
    assert len(taken) == 5
    for name in ALL_COLUMNS:
        original = getattr(metadata, name)
        expected = [original[i] for i in rows.tolist()]
        np.testing.assert_array_equal(getattr(taken, name), expected, err_msg=name)
        assert getattr(taken, name).dtype == original.dtype, name
    assert taken.source_path == metadata.source_path
    assert taken.stack_files == metadata.stack_files
    assert taken.field_labels == metadata.field_labels


def test_take_keeps_absent_columns_absent_and_accepts_masks() -> None:
    metadata = ParticleMetadata(source_path=Path("x.cs"), **columns(8, optional=False))
    mask = np.array([True, False] * 4)
    taken = metadata.take(mask)
    assert len(taken) == 4
    np.testing.assert_array_equal(taken.source_row, metadata.source_row[::2])
    for name in OPTIONAL_COLUMNS:
        assert getattr(taken, name) is None, name
    assert len(metadata.take(np.array([], dtype=np.int64))) == 0


def test_stack_paths_of_unresolved_rows_are_empty() -> None:
    metadata = ParticleMetadata(source_path=Path("x.cs"), **columns(5, optional=False))
    assert metadata.stack_paths().tolist() == [""] * 5


def test_stack_paths_follow_the_file_table_with_missing_rows_empty() -> None:
    table = ("/data/a.mrc", "/data/much/longer/name/b.mrc")
    index = np.array([1, -1, 0, 0, 1, -1], dtype=np.int64)
    metadata = make_metadata(6, stack_files=table, stack_file_index=index)
    expected = ["" if i < 0 else table[i] for i in index.tolist()]
    assert metadata.stack_paths().tolist() == expected


def test_compact_file_table_keeps_only_used_files_and_every_rows_file() -> None:
    table = tuple(f"/data/stack_{i}.mrc" for i in range(6))
    index = np.array([4, -1, 2, 4, 2, -1, 5], dtype=np.int64)
    metadata = make_metadata(7, stack_files=table, stack_file_index=index)
    compact = metadata.with_compact_files()
    assert sorted(compact.stack_files) == sorted({table[i] for i in (2, 4, 5)})
    assert compact.stack_paths().tolist() == metadata.stack_paths().tolist()
    assert compact.stack_file_index is not None
    assert (compact.stack_file_index == -1).tolist() == (index == -1).tolist()
    unresolved = ParticleMetadata(
        source_path=Path("x.cs"), **columns(3, optional=False)
    )
    assert unresolved.with_compact_files() is unresolved


def test_concatenate_joins_columns_in_order_and_drops_partial_ones() -> None:
    first = make_metadata(4, seed=1, stack_files=(), stack_file_index=None)
    second_columns = columns(3, seed=2)
    second_columns["uid"] = None
    second = ParticleMetadata(source_path=Path("/other.cs"), **second_columns)
    joined = concatenate_metadata([first, second])
    assert len(joined) == 7
    assert joined.source_path == first.source_path
    for name in REQUIRED_COLUMNS:
        expected = [*getattr(first, name).tolist(), *getattr(second, name).tolist()]
        assert getattr(joined, name).tolist() == expected, name
    assert joined.pixel_size_angstrom is not None
    expected_sizes = [
        *columns(4, seed=1)["pixel_size_angstrom"],
        *columns(3, seed=2)["pixel_size_angstrom"],
    ]
    assert joined.pixel_size_angstrom.tolist() == expected_sizes
    assert joined.uid is None  # present in one part only: not made up for the other


def test_concatenate_of_one_part_is_that_part() -> None:
    part = make_metadata(5)
    joined = concatenate_metadata([part])
    for item in dataclasses.fields(part):
        left, right = getattr(part, item.name), getattr(joined, item.name)
        if isinstance(left, np.ndarray):
            np.testing.assert_array_equal(left, right)
        else:
            assert left == right


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (b"J3/a.mrc", "J3/a.mrc"),
        (np.bytes_(b">J3/b.mrc"), ">J3/b.mrc"),
        ("caf\u00e9.mrc", "caf\u00e9.mrc"),
        ("caf\u00e9.mrc".encode(), "caf\u00e9.mrc"),
        (np.str_("x.mrcs"), "x.mrcs"),
        (b"bad\xffbyte", "bad\ufffdbyte"),
        (7, "7"),
    ],
)
def test_decode_text(value: object, text: str) -> None:
    assert decode_text(value) == text
    assert type(decode_text(value)) is str


def test_row_label_names_row_uid_and_image_location() -> None:
    values = columns(3)
    values["source_row"] = np.array([10, 11, 12], dtype=np.int64)
    values["uid"] = np.array([5, 2**63 + 7, 9], dtype=np.uint64)
    values["stored_path"] = np.array([b"a.mrc", b">J3/stack b.mrc", b"c.mrc"])
    values["stack_index"] = np.array([0, 41, 2], dtype=np.int64)
    metadata = ParticleMetadata(source_path=Path("x.cs"), **values)
    assert metadata.row_label(1) == f"row 11, uid {2**63 + 7}, >J3/stack b.mrc@41"
    values["uid"] = None
    without_uid = ParticleMetadata(source_path=Path("x.cs"), **values)
    assert without_uid.row_label(2) == "row 12, c.mrc@2"


def test_label_uses_the_source_field_name_when_known() -> None:
    metadata = make_metadata(2, field_labels={"pixel_size_angstrom": "blob/psize_A"})
    assert metadata.label("pixel_size_angstrom") == "blob/psize_A"
    assert metadata.label("voltage_kv") == "voltage_kv"
