"""Recognising inputs: .cs, .csg, .star, job folders, and redirects for the wrong kind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cryosparc.dataset import CSDAT_FORMAT, Dataset

from cryolike_convert.errors import InputFileError, render
from cryolike_convert.options import OptionError
from cryolike_convert.readers.detect import (
    describe_mismatch,
    detect_input,
    parse_job_number,
    sniff_file,
)
from cryolike_convert.testing import (
    make_cryosparc_job,
    make_cryosparc_project,
    make_relion_project,
    write_cs,
)

CSG = """created: '2026-01-01 10:00:00'
group:
  name: particles
  type: particle
results:
  blob:
    metafile: '>J5_particles_selected.cs'
    num_items: 48
    type: particle.blob
version: v4.6.0
"""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    project = make_cryosparc_project(tmp_path / "cs")
    relion = make_relion_project(tmp_path / "relion")
    csdat = tmp_path / "compressed.cs"
    Dataset(np.load(project.cs_file)).save(str(csdat), format=CSDAT_FORMAT)
    csg = project.cs_file.with_suffix(".csg")
    csg.write_text(CSG)
    misnamed = tmp_path / "really_a_star.cs"
    misnamed.write_bytes(relion.star_file.read_bytes())
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    return {
        "cs": project.cs_file,
        "csdat": csdat,
        "csg": csg,
        "star": relion.star_file,
        "mrc": project.stacks[0],
        "misnamed": misnamed,
        "text": text,
    }


def test_files_are_recognised_by_their_bytes(files: dict[str, Path]) -> None:
    assert sniff_file(files["cs"]) == "cs"
    assert sniff_file(files["csdat"]) == "cs"
    assert sniff_file(files["csg"]) == "csg"
    assert sniff_file(files["star"]) == "star"
    assert sniff_file(files["mrc"]) == "mrc"
    assert sniff_file(files["misnamed"]) == "star"
    assert sniff_file(files["text"]) == "unknown"
    assert sniff_file(files["cs"].parent / "absent.cs") == "unknown"


@pytest.mark.parametrize(
    ("text", "number"), [("J4", 4), ("j12", 12), ("4", 4), (" J07 ", 7), (3, 3)]
)
def test_job_numbers(text: str | int, number: int) -> None:
    assert parse_job_number(text) == number


@pytest.mark.parametrize("text", ["K4", "J", "-1", "J4a", ""])
def test_bad_job_numbers(text: str) -> None:
    with pytest.raises(OptionError, match="expected J<n> or n") as info:
        parse_job_number(text)
    assert "--job" in info.value.for_cli()


def test_metadata_files(files: dict[str, Path]) -> None:
    for kind in ("cs", "csdat", "csg"):
        detected = detect_input([files[kind]])
        assert (detected.kind, detected.paths) == ("cryosparc", (files[kind],))
    star = detect_input([str(files["star"])])
    assert (star.kind, star.paths) == ("star", (files["star"],))
    assert detect_input([files["misnamed"]]).kind == "star"
    several = detect_input([files["cs"], files["csdat"]])
    assert several.kind == "cryosparc"
    assert several.paths == (files["cs"], files["csdat"])


def test_job_folders(tmp_path: Path) -> None:
    job = make_cryosparc_job(tmp_path / "project", job_number=4)
    for paths, given in [
        ([job.job_dir], None),
        ([job.project], "J4"),
        ([job.project], "4"),
        ([job.job_dir], "J4"),
    ]:
        detected = detect_input(paths, given)
        assert detected.kind == "cryosparc_job"
        assert detected.paths == (job.job_dir,)
        assert (detected.project_dir, detected.job_number) == (job.project, 4)


def test_a_project_folder_needs_the_job(tmp_path: Path) -> None:
    job = make_cryosparc_job(tmp_path / "project", job_number=4)
    make_cryosparc_job(tmp_path / "project", job_number=11, folders=("downsample",))
    with pytest.raises(InputFileError, match="not a CryoSPARC job folder") as info:
        detect_input([job.project])
    assert "restacked particles: J4, J11" in str(info.value)
    assert "job_number=4" in str(info.value)
    assert "--job J4" in info.value.for_cli()
    with pytest.raises(InputFileError, match="J9: job folder not found"):
        detect_input([job.project], "J9")


def test_a_selection_job_points_to_its_particles_file(tmp_path: Path) -> None:
    project = make_cryosparc_project(tmp_path / "project")  # J5 without restack/
    job_dir = project.cs_file.parent
    write_cs(job_dir / "J5_passthrough_particles_selected.cs", np.load(project.cs_file))
    with pytest.raises(InputFileError) as info:
        detect_input([job_dir])
    python, cli = str(info.value), info.value.for_cli()
    assert "holds no image folder" in python
    assert f"file_cs='{project.cs_file}'" in python
    assert f"cryolike-convert {project.cs_file}" in cli
    assert "passthrough" not in cli.split("particle files here:")[0]


def test_what_is_not_an_input(files: dict[str, Path]) -> None:
    with pytest.raises(InputFileError, match="is an MRC image stack") as mrc:
        detect_input([files["mrc"]])
    assert "star-pairs --mrc" in mrc.value.for_cli()
    with pytest.raises(InputFileError, match=r"notes\.txt: is not a CryoSPARC"):
        detect_input([files["text"]])
    with pytest.raises(InputFileError, match=r"absent\.cs: not found"):
        detect_input([files["cs"].parent / "absent.cs"])
    with pytest.raises(InputFileError, match="STAR file is converted on its own"):
        detect_input([files["cs"], files["star"]])
    with pytest.raises(InputFileError, match="give it alone"):
        detect_input([files["csg"], files["cs"]])


def test_redirects_name_what_to_run(files: dict[str, Path]) -> None:
    star = describe_mismatch(files["star"], "a CryoSPARC .cs file")
    assert star is not None
    assert "is a RELION STAR file, not a CryoSPARC .cs file" in render(star)
    assert "convert_particle_stacks_from_indexed_star_file(" in render(star)
    assert f"cryolike-convert star {files['star']}" in render(star, "cli")
    cs = describe_mismatch(files["cs"], "a RELION STAR file")
    assert cs is not None
    assert f"cryolike-convert cryosparc {files['cs']}" in render(cs, "cli")
    folder = describe_mismatch(files["cs"].parent, "a CryoSPARC .cs file")
    assert folder is not None
    assert "is a CryoSPARC job folder" in folder
    assert describe_mismatch(files["text"], "a RELION STAR file") is None
