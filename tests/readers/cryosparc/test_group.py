"""``.csg`` result groups and several ``.cs`` files joined on uid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cryolike_convert.errors import InputFileError, MetadataError
from cryolike_convert.readers.cryosparc.group import read_result_group
from cryolike_convert.readers.cryosparc.indexed import read_indexed_cryosparc
from cryolike_convert.testing import ExampleProject, make_cryosparc_project, write_cs


@pytest.fixture
def project(tmp_path: Path) -> ExampleProject:
    return make_cryosparc_project(tmp_path / "project", n_particles=20)


def _split(project: ExampleProject) -> tuple[np.ndarray, Path, Path]:
    """Write the project's table as an export: blob in one file, ctf in another."""
    table = np.load(project.cs_file)
    blob = [name for name in table.dtype.names if not name.startswith("ctf/")]
    ctf = ["uid"] + [name for name in table.dtype.names if name.startswith("ctf/")]
    folder = project.root / "exports" / "groups" / "J5_particles"
    main = write_cs(folder / "J5_particles_exported.cs", table[blob].copy())
    shuffled = table[ctf][np.random.default_rng(7).permutation(len(table))]
    passthrough = write_cs(folder / "J5_passthrough_exported.cs", shuffled.copy())
    return table, main, passthrough


def _csg(path: Path, entries: dict[str, tuple[str, int]]) -> Path:
    lines = ["created: 2026-01-01 10:00:00.000000", "group:", "  name: particles"]
    lines += ["  type: particle", "results:"]
    for slot, (metafile, count) in entries.items():
        lines += [f"  {slot}:", f"    metafile: '{metafile}'"]
        lines += [f"    num_items: {count}", f"    type: particle.{slot}"]
    path.write_text("\n".join([*lines, "version: v4.6.0", ""]))
    return path


def test_a_group_names_the_files_of_each_field(project: ExampleProject) -> None:
    table, main, passthrough = _split(project)
    csg = _csg(
        main.parent / "J5_particles_exported.csg",
        {
            "blob": (">J5_particles_exported.cs", 20),
            "ctf": (">J5_passthrough_exported.cs", 20),
            "location": (">J5_passthrough_exported.cs", 20),
        },
    )
    group = read_result_group(csg)
    assert group.files() == [main, passthrough]
    assert group.slots_of(passthrough) == ["ctf", "location"]
    read = read_indexed_cryosparc(csg)
    assert read.metadata_files == (csg, main, passthrough)
    assert read.details["group"] == str(csg.resolve())
    # rows keep the main file's order; ctf values follow their uid
    np.testing.assert_array_equal(read.metadata.uid, table["uid"])
    np.testing.assert_array_equal(read.metadata.defocus_u_angstrom, table["ctf/df1_A"])
    np.testing.assert_array_equal(read.metadata.stored_index, table["blob/idx"])


def test_the_group_decides_which_file_a_field_comes_from(
    project: ExampleProject,
) -> None:
    table, main, passthrough = _split(project)
    stale = np.load(project.cs_file)  # main file also holds (older) ctf values
    stale["ctf/df1_A"] += 1000.0
    write_cs(main, stale)
    csg = _csg(
        main.parent / "group.csg",
        {
            "blob": (">J5_particles_exported.cs", 20),
            "ctf": (">J5_passthrough_exported.cs", 20),
        },
    )
    read = read_indexed_cryosparc(csg)
    np.testing.assert_array_equal(read.metadata.defocus_u_angstrom, table["ctf/df1_A"])
    several = read_indexed_cryosparc([main, passthrough])  # without a group: main wins
    np.testing.assert_array_equal(
        several.metadata.defocus_u_angstrom, stale["ctf/df1_A"]
    )


def test_several_cs_files_are_joined_on_uid(project: ExampleProject) -> None:
    table, main, passthrough = _split(project)
    read = read_indexed_cryosparc([main, passthrough])
    assert read.metadata_files == (main, passthrough)
    by_uid = {
        int(u): float(d) for u, d in zip(table["uid"], table["ctf/df1_A"], strict=True)
    }
    assert read.metadata.uid is not None
    expected = [by_uid[int(u)] for u in read.metadata.uid]
    np.testing.assert_array_equal(
        read.metadata.defocus_u_angstrom, np.array(expected, dtype=np.float32)
    )
    assert read.search_dirs[-1] == ("metadata_dir", main.parent.resolve())


def test_a_row_without_partner_is_an_error(project: ExampleProject) -> None:
    _, main, passthrough = _split(project)
    partial = np.load(passthrough)[:-1]
    write_cs(passthrough, partial)
    with pytest.raises(MetadataError, match="has no partner in J5_passthrough"):
        read_indexed_cryosparc([main, passthrough])


def test_group_row_counts_must_match(project: ExampleProject) -> None:
    _, main, _ = _split(project)
    csg = _csg(
        main.parent / "group.csg",
        {
            "blob": (">J5_particles_exported.cs", 21),
            "ctf": (">J5_passthrough_exported.cs", 20),
        },
    )
    with pytest.raises(MetadataError, match=r"holds 20 rows but group\.csg says 21"):
        read_indexed_cryosparc(csg)


def test_broken_groups(project: ExampleProject, tmp_path: Path) -> None:
    missing = _csg(tmp_path / "a.csg", {"blob": (">nowhere.cs", 3)})
    with pytest.raises(
        InputFileError, match=r"results\.blob names metafile '>nowhere\.cs'"
    ):
        read_result_group(missing)
    no_results = tmp_path / "b.csg"
    no_results.write_text("group:\n  name: x\n")
    with pytest.raises(InputFileError, match="expected YAML with a 'results'"):
        read_result_group(no_results)
    unsafe = tmp_path / "c.csg"
    unsafe.write_text("results: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(InputFileError, match=r"cannot be read as a CryoSPARC \.csg"):
        read_result_group(unsafe)
    no_metafile = tmp_path / "d.csg"
    no_metafile.write_text("results:\n  blob:\n    num_items: 3\n")
    with pytest.raises(InputFileError, match=r"results\.blob names no metafile"):
        read_result_group(no_metafile)
