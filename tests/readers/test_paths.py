"""Stored image paths → files: cleaning, the rule order, the shared file table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cryolike_convert.metadata import ParticleMetadata
from cryolike_convert.readers.paths import (
    candidate_paths,
    clean_stored_path,
    factorize,
    infer_project_dir,
    resolve_stack_paths,
    resolve_stored_path,
)


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def metadata_with_paths(stored: list[bytes]) -> ParticleMetadata:
    n_rows = len(stored)
    ones = np.ones(n_rows, dtype=np.float32)
    return ParticleMetadata(
        source_path=Path("particles.cs"),
        source_row=np.arange(n_rows, dtype=np.int64),
        stored_path=np.array(stored),
        stored_index=np.zeros(n_rows, dtype=np.uint32),
        stack_index=np.zeros(n_rows, dtype=np.int64),
        defocus_u_angstrom=ones,
        defocus_v_angstrom=ones,
        defocus_angle_rad=ones,
        phase_shift_rad=ones,
        voltage_kv=ones,
        spherical_aberration_mm=ones,
        amplitude_contrast_fraction=ones,
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (b">J3/extract/a.mrc", "J3/extract/a.mrc"),
        (np.bytes_(b">J3/a.mrc"), "J3/a.mrc"),
        (">/abs/a.mrc", "/abs/a.mrc"),
        (b">>twice.mrc", ">twice.mrc"),  # one marker only
        (b"J3/a>b.mrc", "J3/a>b.mrc"),  # not leading: kept
        (b"J3/a.mrc", "J3/a.mrc"),
        ("caf\u00e9/a.mrc".encode(), "caf\u00e9/a.mrc"),
        (np.str_("plain.mrcs"), "plain.mrcs"),
    ],
)
def test_clean_stored_path(value: object, text: str) -> None:
    assert clean_stored_path(value) == text


def test_project_dir_is_the_parent_of_the_nearest_job_folder(tmp_path: Path) -> None:
    nested = touch(tmp_path / "proj" / "J12" / "sub" / "J7" / "particles.cs")
    assert infer_project_dir(nested) == (tmp_path / "proj" / "J12" / "sub").resolve()
    direct = touch(tmp_path / "proj" / "J3" / "particles.cs")
    assert infer_project_dir(direct) == (tmp_path / "proj").resolve()


@pytest.mark.parametrize("folder", ["jobs", "J", "J3a", "j3", "XJ3"])
def test_no_project_dir_without_a_job_folder(tmp_path: Path, folder: str) -> None:
    file = touch(tmp_path / "data" / folder / "particles.cs")
    assert infer_project_dir(file) is None


def test_project_dir_of_a_relative_metadata_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    touch(tmp_path / "proj" / "J9" / "particles.cs")
    monkeypatch.chdir(tmp_path / "proj" / "J9")
    assert infer_project_dir(Path("particles.cs")) == (tmp_path / "proj").resolve()


def test_folder_override_uses_the_basename_only(tmp_path: Path) -> None:
    search = [("cwd", tmp_path / "a"), ("project_dir", tmp_path / "b")]
    for stored in ("J3/extract/stack.mrc", "/elsewhere/stack.mrc", "stack.mrc"):
        assert candidate_paths(stored, tmp_path / "flat", search) == [
            ("folder", tmp_path / "flat" / "stack.mrc")
        ]


def test_absolute_path_is_used_as_is(tmp_path: Path) -> None:
    search = [("cwd", tmp_path / "a")]
    stored = str(tmp_path / "x" / "stack.mrc")
    assert candidate_paths(stored, None, search) == [("absolute", Path(stored))]


def test_home_is_expanded_to_an_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert candidate_paths("~/stacks/a.mrc", None, [("cwd", tmp_path)]) == [
        ("absolute", tmp_path / "home" / "stacks" / "a.mrc")
    ]


def test_relative_path_is_tried_in_each_search_folder_in_order(tmp_path: Path) -> None:
    search = [
        ("cwd", tmp_path / "c"),
        ("project_dir", tmp_path / "p"),
        ("metadata_dir", tmp_path / "m"),
    ]
    assert candidate_paths("J3/a.mrc", None, search) == [
        ("cwd", tmp_path / "c" / "J3/a.mrc"),
        ("project_dir", tmp_path / "p" / "J3/a.mrc"),
        ("metadata_dir", tmp_path / "m" / "J3/a.mrc"),
    ]
    assert candidate_paths("J3/a.mrc", None, []) == []


def test_the_first_search_folder_holding_the_file_wins(tmp_path: Path) -> None:
    search = [
        ("cwd", tmp_path / "c"),
        ("project_dir", tmp_path / "p"),
        ("metadata_dir", tmp_path / "m"),
    ]
    touch(tmp_path / "m" / "J3" / "a.mrc")
    found = resolve_stored_path("J3/a.mrc", None, search)
    assert (found.rule, found.path) == ("metadata_dir", tmp_path / "m" / "J3/a.mrc")
    touch(tmp_path / "p" / "J3" / "a.mrc")
    found = resolve_stored_path("J3/a.mrc", None, search)
    assert (found.rule, found.path) == ("project_dir", tmp_path / "p" / "J3/a.mrc")
    assert found.tried == ()
    assert found.stored == "J3/a.mrc"


def test_a_folder_is_not_a_stack_file(tmp_path: Path) -> None:
    (tmp_path / "c" / "J3" / "a.mrc").mkdir(parents=True)
    touch(tmp_path / "p" / "J3" / "a.mrc")
    search = [("cwd", tmp_path / "c"), ("project_dir", tmp_path / "p")]
    assert resolve_stored_path("J3/a.mrc", None, search).rule == "project_dir"


def test_folder_override_beats_an_existing_absolute_path(tmp_path: Path) -> None:
    original = touch(tmp_path / "original" / "stack.mrc")
    copy = touch(tmp_path / "flat" / "stack.mrc")
    found = resolve_stored_path(str(original), tmp_path / "flat", [])
    assert (found.rule, found.path) == ("folder", copy)
    missing = resolve_stored_path(str(original), tmp_path / "empty", [])
    assert (missing.rule, missing.path) == ("missing", None)
    assert missing.tried == (tmp_path / "empty" / "stack.mrc",)


def test_a_missing_file_lists_every_place_tried(tmp_path: Path) -> None:
    search = [("cwd", tmp_path / "c"), ("project_dir", tmp_path / "p")]
    found = resolve_stored_path("J3/gone.mrc", None, search)
    assert (found.rule, found.path) == ("missing", None)
    assert found.tried == (tmp_path / "c/J3/gone.mrc", tmp_path / "p/J3/gone.mrc")


def test_resolved_paths_are_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    touch(tmp_path / "J3" / "a.mrc")
    monkeypatch.chdir(tmp_path)
    found = resolve_stored_path("J3/a.mrc", None, [("cwd", Path("."))])
    assert found.path == tmp_path / "J3" / "a.mrc"
    assert found.path is not None
    assert found.path.is_absolute()


def test_stored_paths_to_the_same_file_share_one_table_entry(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    a = touch(project / "J3" / "a.mrc")
    b = touch(project / "J3" / "b.mrc")
    stored = [
        b"J3/b.mrc",
        b">J3/a.mrc",
        b"J3/gone.mrc",
        b"J3/a.mrc",
        b"J3/../J3/a.mrc",
        str(a).encode(),
        b"J3/b.mrc",
        b">J3/gone.mrc",
    ]
    metadata = metadata_with_paths(stored)
    resolved, report = resolve_stack_paths(metadata, None, [("project_dir", project)])
    assert sorted(resolved.stack_files) == sorted([str(a), str(b)])
    expected = [str(b), str(a), "", str(a), str(a), str(a), str(b), ""]
    assert resolved.stack_paths().tolist() == expected
    assert resolved.stack_file_index is not None
    assert resolved.stack_file_index.dtype == np.int64
    assert np.flatnonzero(resolved.stack_file_index == -1).tolist() == [2, 7]
    # One report entry per distinct cleaned stored path.
    by_stored = {item.stored: item for item in report}
    assert set(by_stored) == {
        "J3/a.mrc",
        "J3/b.mrc",
        "J3/gone.mrc",
        "J3/../J3/a.mrc",
        str(a),
    }
    assert by_stored[str(a)].rule == "absolute"
    assert by_stored["J3/a.mrc"].rule == "project_dir"
    assert by_stored["J3/gone.mrc"].tried == (project / "J3" / "gone.mrc",)
    for name in ("J3/a.mrc", "J3/b.mrc", str(a)):
        assert by_stored[name].tried == ()
    # Nothing else of the metadata changes.
    np.testing.assert_array_equal(resolved.stored_path, metadata.stored_path)


def test_folder_override_in_the_whole_table(tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    a = touch(flat / "a.mrc")
    metadata = metadata_with_paths([b">J3/x/a.mrc", b"/abs/a.mrc", b"b.mrc"])
    resolved, report = resolve_stack_paths(metadata, str(flat), [("cwd", tmp_path)])
    assert resolved.stack_paths().tolist() == [str(a), str(a), ""]
    assert resolved.stack_files == (str(a),)
    assert {item.rule for item in report} == {"folder", "missing"}


@pytest.mark.parametrize("folder", [None, ""])
def test_no_folder_means_the_search_folders(tmp_path: Path, folder: str | None) -> None:
    a = touch(tmp_path / "p" / "a.mrc")
    metadata = metadata_with_paths([b"a.mrc"])
    resolved, report = resolve_stack_paths(metadata, folder, [("p", tmp_path / "p")])
    assert resolved.stack_paths().tolist() == [str(a)]
    assert report[0].rule == "p"


def test_resolving_no_rows(tmp_path: Path) -> None:
    metadata = metadata_with_paths([])
    resolved, report = resolve_stack_paths(metadata, None, [("cwd", tmp_path)])
    assert report == []
    assert resolved.stack_files == ()
    assert resolved.stack_file_index is not None
    assert resolved.stack_file_index.shape == (0,)


def _expand_runs(runs: list[tuple[int, int]]) -> list[int]:
    return [value for value, length in runs for _ in range(length)]


def _check_factorize(values: np.ndarray) -> None:
    unique, inverse = factorize(values)
    expected_unique, expected_inverse = np.unique(values, return_inverse=True)
    np.testing.assert_array_equal(unique, expected_unique)
    np.testing.assert_array_equal(inverse, expected_inverse.reshape(-1))
    np.testing.assert_array_equal(unique[inverse], values)
    assert inverse.shape == values.shape


@given(
    st.lists(st.tuples(st.integers(-5, 5), st.integers(1, 6)), min_size=0, max_size=30)
)
def test_factorize_equals_np_unique_on_integer_runs(
    runs: list[tuple[int, int]],
) -> None:
    _check_factorize(np.array(_expand_runs(runs), dtype=np.int64))


@given(
    st.lists(
        st.tuples(
            st.sampled_from([b"J3/a.mrc", b">J3/a.mrc", b"b", b""]), st.integers(1, 4)
        ),
        min_size=1,
        max_size=20,
    )
)
def test_factorize_equals_np_unique_on_byte_paths(
    runs: list[tuple[bytes, int]],
) -> None:
    values = np.array([value for value, length in runs for _ in range(length)])
    _check_factorize(values)


def test_factorize_on_random_grouped_paths() -> None:
    rng = np.random.default_rng(11)
    names = np.array([f"J{i}/stack_{i % 7}.mrc" for i in range(40)])
    lengths = rng.integers(1, 30, size=200)
    values = np.repeat(names[rng.integers(0, 40, size=200)], lengths)
    _check_factorize(values)
    _check_factorize(rng.permutation(values))


def test_factorize_of_nothing() -> None:
    unique, inverse = factorize(np.array([], dtype="S8"))
    assert unique.shape == (0,)
    assert inverse.shape == (0,)
    assert inverse.dtype == np.int64


def test_only_the_given_search_folders_are_tried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The current folder counts only when the reader lists it among search_dirs.
    monkeypatch.chdir(tmp_path)
    touch(tmp_path / "J3" / "a.mrc")
    found = resolve_stored_path("J3/a.mrc", None, [("project_dir", tmp_path / "p")])
    assert found.rule == "missing"
    assert found.tried == (tmp_path / "p" / "J3" / "a.mrc",)
