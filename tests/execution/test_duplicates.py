"""Rows repeating an earlier row's image or uid are found, counted and listed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from cryolike_convert.execution.duplicates import MAX_LISTED, find_duplicates
from cryolike_convert.metadata import ParticleMetadata


def _metadata(
    files: list[int], indices: list[int], uids: list[int] | None = None
) -> ParticleMetadata:
    n = len(files)
    values = np.linspace(1.0, 2.0, n)
    return ParticleMetadata(
        source_path=Path("particles.cs"),
        source_row=np.arange(n, dtype=np.int64) + 100,
        stored_path=np.array([f"s{f}.mrc" for f in files]),
        stored_index=np.array(indices),
        stack_index=np.array(indices, dtype=np.int64),
        defocus_u_angstrom=values,
        defocus_v_angstrom=values,
        defocus_angle_rad=values,
        phase_shift_rad=values,
        voltage_kv=values,
        spherical_aberration_mm=values,
        amplitude_contrast_fraction=values,
        uid=None if uids is None else np.array(uids, dtype=np.uint64),
        stack_files=("a", "b", "c"),
        stack_file_index=np.array(files, dtype=np.int64),
        field_labels={"uid": "uid"},
    )


def test_distinct_rows_give_nothing() -> None:
    assert find_duplicates(_metadata([0, 0, 1, 1], [0, 1, 0, 1], [4, 3, 2, 1])) == []


def test_a_repeated_image_names_both_rows_and_the_image() -> None:
    (found,) = find_duplicates(_metadata([1, 0, 2, 0], [5, 3, 1, 3]))
    assert found.kind == "image"
    assert found.n_rows == 1
    assert found.pairs == ((103, 101),)
    assert "row 103 repeats row 101 (s0.mrc@3)" in found.text
    assert "particles.cs: 1 row(s)" in found.text
    assert found.describe() == {"kind": "image", "n_rows": 1, "first": [[103, 101]]}


def test_the_same_index_in_another_file_is_no_repeat() -> None:
    assert find_duplicates(_metadata([0, 1, 2], [7, 7, 7])) == []


def test_rows_without_a_found_stack_are_not_compared() -> None:
    assert find_duplicates(_metadata([-1, -1, 0], [2, 2, 2])) == []


def test_repeated_uids_are_found_even_above_two_to_the_63() -> None:
    big = 2**64 - 5
    metadata = _metadata([0, 0, 0, 0], [0, 1, 2, 3], [big, 7, big, 2**63])
    (found,) = find_duplicates(metadata)
    assert found.kind == "uid"
    assert found.pairs == ((102, 100),)
    assert f"uid {big}" in found.text


def test_many_repeats_are_counted_and_the_first_listed() -> None:
    n = 4 * MAX_LISTED
    metadata = _metadata([0] * n, [0] * n)
    (found,) = find_duplicates(metadata)
    assert found.n_rows == n - 1
    assert len(found.pairs) == MAX_LISTED
    assert f"and {n - 1 - MAX_LISTED} more" in found.text


def test_a_repeated_row_repeats_image_and_uid() -> None:
    metadata = _metadata([0, 1, 0], [4, 4, 4], [9, 8, 9])
    kinds = [found.kind for found in find_duplicates(metadata)]
    assert kinds == ["image", "uid"]
    shuffled = dataclasses.replace(metadata, source_row=np.array([5, 6, 7]))
    assert find_duplicates(shuffled)[0].pairs == ((7, 5),)
