"""Joining a ``.cs`` table with its sibling file on ``uid``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cryolike_convert.errors import MetadataError, MissingFieldError
from cryolike_convert.readers.cryosparc.join import join_on_uid, join_sibling
from cryolike_convert.testing import (
    CS_CTF_DTYPE,
    cs_table,
    make_cryosparc_job,
    write_cs,
)

CTF_FIELDS = [name for name, _ in CS_CTF_DTYPE]
PRIMARY = Path("/proj/J4/J4_passthrough_particles.cs")
SIBLING = Path("/proj/J4/J4_particles.cs")


def tables(n_rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A primary table with uid + blob fields, and a shuffled partner with CTF fields."""
    paths = [f"J3/stack_{i % 3}.mrc" for i in range(n_rows)]
    full = cs_table(n_rows, seed=seed, paths=paths)
    primary = full[["uid", "blob/path", "blob/idx"]].copy()
    partner = full[np.random.default_rng(seed + 1).permutation(n_rows)]
    return primary, partner


def test_join_adds_the_fields_of_the_matching_partner_row() -> None:
    primary, partner = tables(40, seed=3)
    fields = ["ctf/df1_A", "ctf/df2_A", "blob/shape", "ctf/type"]
    joined = join_on_uid(PRIMARY, primary, SIBLING, partner, fields)
    by_uid = {int(row["uid"]): row for row in partner}
    assert joined.dtype.names == ("uid", "blob/path", "blob/idx", *fields)
    for position in range(len(primary)):
        partner_row = by_uid[int(primary["uid"][position])]
        for name in fields:
            assert np.array_equal(joined[name][position], partner_row[name]), name
            assert joined.dtype[name] == partner.dtype[name], name


def test_join_keeps_the_primary_order_and_values() -> None:
    primary, partner = tables(25, seed=5)
    joined = join_on_uid(PRIMARY, primary, SIBLING, partner, CTF_FIELDS)
    assert len(joined) == len(primary)
    for name in primary.dtype.names or ():
        np.testing.assert_array_equal(joined[name], primary[name], err_msg=name)


def test_partner_may_hold_more_rows() -> None:
    primary, partner = tables(30, seed=2)
    kept = primary[::3].copy()
    joined = join_on_uid(PRIMARY, kept, SIBLING, partner, ["ctf/df1_A"])
    expected = {
        int(u): float(v)
        for u, v in zip(partner["uid"], partner["ctf/df1_A"], strict=True)
    }
    assert joined["ctf/df1_A"].tolist() == [expected[int(u)] for u in kept["uid"]]


def test_a_row_without_partner_is_an_error_naming_file_row_and_uid() -> None:
    primary, partner = tables(12, seed=4)
    lonely = 7
    partner = partner[partner["uid"] != primary["uid"][lonely]]
    with pytest.raises(MetadataError) as caught:
        join_on_uid(PRIMARY, primary, SIBLING, partner, CTF_FIELDS)
    error = caught.value
    assert (error.path, error.row, error.field) == (PRIMARY, lonely, "uid")
    assert error.value == int(primary["uid"][lonely])
    text = str(error)
    assert str(PRIMARY) in text
    assert str(int(primary["uid"][lonely])) in text
    assert SIBLING.name in text


def test_empty_partner_leaves_every_row_unmatched() -> None:
    primary, partner = tables(4)
    with pytest.raises(MetadataError) as caught:
        join_on_uid(PRIMARY, primary, SIBLING, partner[:0], CTF_FIELDS)
    assert caught.value.row == 0


def test_duplicate_uid_in_the_primary_is_an_error() -> None:
    primary, partner = tables(10, seed=6)
    primary["uid"][8] = primary["uid"][2]
    with pytest.raises(MetadataError) as caught:
        join_on_uid(PRIMARY, primary, SIBLING, partner, CTF_FIELDS)
    error = caught.value
    assert (error.path, error.row, error.field) == (PRIMARY, 8, "uid")
    assert str(int(primary["uid"][2])) in str(error)
    assert str(PRIMARY) in str(error)


def test_duplicate_uid_in_the_partner_is_an_error_naming_the_partner() -> None:
    primary, partner = tables(10, seed=7)
    partner["uid"][0] = partner["uid"][9]
    with pytest.raises(MetadataError) as caught:
        join_on_uid(PRIMARY, primary, SIBLING, partner, CTF_FIELDS)
    assert caught.value.path == SIBLING
    assert caught.value.field == "uid"
    assert str(int(partner["uid"][9])) in str(caught.value)


@pytest.mark.parametrize("owner", ["primary", "partner"])
def test_a_table_without_uid_cannot_be_joined(owner: str) -> None:
    primary, partner = tables(5)
    if owner == "primary":
        primary = primary[["blob/path", "blob/idx"]].copy()
    else:
        partner = partner[CTF_FIELDS].copy()
    with pytest.raises(MissingFieldError) as caught:
        join_on_uid(PRIMARY, primary, SIBLING, partner, CTF_FIELDS)
    assert caught.value.field == "uid"
    assert caught.value.path == (PRIMARY if owner == "primary" else SIBLING)


def test_join_sibling_finds_the_job_particles_file(tmp_path: Path) -> None:
    job = make_cryosparc_job(tmp_path, job_number=4, ctf_in_passthrough=False)
    passthrough = job.job_dir / "J4_passthrough_particles.cs"
    table = np.load(passthrough, allow_pickle=False)
    assert table.dtype.names == ("uid",)
    partner = np.load(job.job_dir / "J4_particles.cs", allow_pickle=False)
    joined = join_sibling(passthrough, table, CTF_FIELDS)
    np.testing.assert_array_equal(joined["uid"], table["uid"])
    order = {int(u): i for i, u in enumerate(partner["uid"])}
    rows = [order[int(u)] for u in table["uid"]]
    for name in CTF_FIELDS:
        np.testing.assert_array_equal(joined[name], partner[name][rows], err_msg=name)


def test_join_sibling_skips_a_sibling_without_the_fields(tmp_path: Path) -> None:
    full = cs_table(6, seed=9)
    primary = write_cs(
        tmp_path / "J8" / "J8_particles_selected.cs", full[["uid"]].copy()
    )
    write_cs(tmp_path / "J8" / "J8_passthrough_particles.cs", full[["uid"]].copy())
    write_cs(tmp_path / "J8" / "J8_particles.cs", full[::-1].copy())
    joined = join_sibling(primary, full[["uid"]].copy(), ["ctf/df2_A"])
    np.testing.assert_array_equal(joined["ctf/df2_A"], full["ctf/df2_A"])


def test_join_sibling_without_a_sibling_names_what_it_looked_for(
    tmp_path: Path,
) -> None:
    file = write_cs(
        tmp_path / "J8" / "J8_particles_selected.cs", cs_table(3)[["uid"]].copy()
    )
    with pytest.raises(MissingFieldError) as caught:
        join_sibling(file, np.load(file), ["ctf/df1_A", "ctf/cs_mm"])
    text = str(caught.value)
    assert caught.value.field == "ctf/df1_A"
    assert caught.value.path == file
    assert "ctf/df1_A" in text
    assert "ctf/cs_mm" in text
    assert "J8_passthrough_particles.cs" in text
    assert "J8_particles.cs" in text


def test_join_sibling_of_a_file_outside_a_job_names_no_sibling(tmp_path: Path) -> None:
    file = write_cs(tmp_path / "particles.cs", cs_table(3)[["uid"]].copy())
    with pytest.raises(MissingFieldError) as caught:
        join_sibling(file, np.load(file), ["ctf/df1_A"])
    assert "J<n>_" in str(caught.value)
