"""Selecting particles by row number (ind) or uid, from .npy or text files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from cryolike_convert.errors import InputFileError, MetadataError
from cryolike_convert.readers.cryosparc.indexed import read_cryosparc_metadata
from cryolike_convert.readers.selection import read_number_file, select_particles
from cryolike_convert.testing import ExampleProject, make_cryosparc_project


@pytest.fixture
def project(tmp_path: Path) -> ExampleProject:
    return make_cryosparc_project(tmp_path / "project", n_particles=20)


def test_npy_and_text_files(tmp_path: Path) -> None:
    npy = tmp_path / "ind.npy"
    np.save(npy, np.array([[4, 1], [9, 0]], dtype=np.int32))
    np.testing.assert_array_equal(read_number_file(npy, np.int64), [4, 1, 9, 0])
    text = tmp_path / "ind.txt"
    text.write_text("# rows to keep\n3, 5 7\n\n11  # the last\n")
    assert read_number_file(text, np.int64).tolist() == [3, 5, 7, 11]
    big = tmp_path / "uids.txt"
    big.write_text(f"{2**64 - 1}\n17\n")
    assert read_number_file(big, np.uint64).tolist() == [2**64 - 1, 17]


def test_pickled_and_malformed_files_are_refused(tmp_path: Path) -> None:
    pickled = tmp_path / "ind.npy"
    np.save(pickled, np.array([1, "two", None], dtype=object), allow_pickle=True)
    with pytest.raises(InputFileError, match="never unpickles"):
        read_number_file(pickled, np.int64)
    floats = tmp_path / "floats.npy"
    np.save(floats, np.array([1.0, 2.0]))
    with pytest.raises(InputFileError, match="float64 array; expected integers"):
        read_number_file(floats, np.int64)
    words = tmp_path / "ind.txt"
    words.write_text("1 2\n3 four\n")
    with pytest.raises(InputFileError, match="line 2 holds 'four'"):
        read_number_file(words, np.int64)
    negative = tmp_path / "uids.txt"
    negative.write_text("5 -3\n")
    with pytest.raises(InputFileError, match="-3 is not a valid uid"):
        read_number_file(negative, np.uint64)


def test_select_rows_keeps_input_order(project: ExampleProject, tmp_path: Path) -> None:
    metadata = read_cryosparc_metadata(project.cs_file)
    chosen, selection = select_particles(metadata, ind=[12, 3, 7])
    assert chosen.source_row.tolist() == [3, 7, 12]
    np.testing.assert_array_equal(
        chosen.defocus_u_angstrom, metadata.defocus_u_angstrom[[3, 7, 12]]
    )
    assert selection is not None
    assert (selection.kind, selection.file, selection.n_rows) == ("ind", None, 20)
    assert selection.unselected_rows.tolist() == sorted(set(range(20)) - {3, 7, 12})
    unchanged, none = select_particles(metadata)
    assert unchanged is metadata
    assert none is None


def test_select_uids(project: ExampleProject, tmp_path: Path) -> None:
    metadata = read_cryosparc_metadata(project.cs_file)
    assert metadata.uid is not None
    wanted = metadata.uid[[15, 2]]
    file = tmp_path / "uids.npy"
    np.save(file, wanted)
    chosen, selection = select_particles(metadata, uids=file)
    assert chosen.source_row.tolist() == [2, 15]
    assert selection is not None
    assert selection.file == file


def test_selection_errors(project: ExampleProject) -> None:
    metadata = read_cryosparc_metadata(project.cs_file)
    with pytest.raises(MetadataError, match="appear"):
        select_particles(metadata, ind=[1, 2, 1])
    with pytest.raises(MetadataError, match="20, 57 is not a row number") as info:
        select_particles(metadata, ind=[0, 20, 57])
    assert "nothing was converted" in str(info.value)
    with pytest.raises(MetadataError, match="ind or uids, not both") as both:
        select_particles(metadata, ind=[1], uids=[2])
    assert "--ind or --uids" in both.value.for_cli()
    with pytest.raises(MetadataError, match="selects no particle"):
        select_particles(metadata, ind=[])
    without_uid = dataclasses.replace(metadata, uid=None)
    with pytest.raises(MetadataError, match="has no uid") as info:
        select_particles(without_uid, uids=[1])
    assert "--ind" in info.value.for_cli()
