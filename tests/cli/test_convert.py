"""The conversion commands: one way in, derived grids, redirects, CLI-spelled messages."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from cryolike_convert.cli.app import app
from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.output.liveness import this_host
from cryolike_convert.output.lock import acquire_output_lock
from cryolike_convert.testing import (
    ExampleJob,
    ExampleProject,
    make_cryosparc_job,
    make_cryosparc_project,
    make_relion_project,
    write_cs,
    write_paired_star_inputs,
)

runner = CliRunner()
QUIET = ["--no-plots", "--quiet"]


@pytest.fixture
def project(tmp_path: Path) -> ExampleProject:
    return make_cryosparc_project(tmp_path / "project", n_particles=12)


@pytest.fixture
def job(project: ExampleProject) -> ExampleJob:
    return make_cryosparc_job(project.root, job_number=4, counts=(3, 3))


def cli(*arguments: object) -> Result:
    return runner.invoke(app, [str(item) for item in arguments])


def converted(out: Path) -> int:
    manifest = json.loads((out / "manifest.json").read_text())
    return int(manifest["totals"]["n_converted"])


def test_a_bare_path_converts_with_a_derived_grid(
    project: ExampleProject, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = cli(project.cs_file, "-o", out, *QUIET)
    assert result.exit_code == 0, result.output
    assert "converted 12 images into 1 stacks" in result.stdout
    assert "grid derived from the data: 32 px at 1.7 Å" in result.stdout
    assert f"params file {out / 'params.npz'}" in result.stdout
    assert ImageDescriptor.load(out / "params.npz").n_pixels == (32, 32)
    same = cli("convert", project.cs_file, "-o", tmp_path / "same", *QUIET)
    assert same.exit_code == 0, same.output
    stacks = [
        json.loads((p / "manifest.json").read_text())["stacks"]
        for p in (out, tmp_path / "same")
    ]
    assert [s["checksums"] for s in stacks[0]] == [s["checksums"] for s in stacks[1]]


def test_job_folders_in_every_spelling(job: ExampleJob, tmp_path: Path) -> None:
    spellings: list[list[object]] = [
        [job.job_dir],
        [job.project, "--job", "J4"],
        [job.project, "--job", "4"],
        ["cryosparc-job", job.project, "--job", "J4"],
        ["cryosparc-job", job.project, "-j", "4"],
        ["cryosparc-job", job.job_dir],
    ]
    for number, arguments in enumerate(spellings):
        out = tmp_path / f"out{number}"
        result = cli(*arguments, "-o", out, *QUIET)
        assert result.exit_code == 0, (arguments, result.output)
        assert converted(out) == 6


def test_options_a_job_folder_does_not_take(job: ExampleJob, tmp_path: Path) -> None:
    result = cli(job.job_dir, "--folder", job.project, "-o", tmp_path / "o")
    assert result.exit_code == 2
    assert "--folder does not apply to a job folder" in result.output
    assert not (tmp_path / "o").exists()


def test_bad_job_spellings(job: ExampleJob, tmp_path: Path) -> None:
    result = cli("cryosparc-job", job.project, "--job", "K4", "-o", tmp_path / "o")
    assert result.exit_code == 1
    assert "--job 'K4' is not a CryoSPARC job" in result.stderr
    result = cli(job.project, "-o", tmp_path / "o", *QUIET)
    assert result.exit_code == 1
    assert "name the job with --job J4" in result.stderr
    assert "job_number" not in result.stderr


def test_a_selection_job_gets_a_pointer(
    project: ExampleProject, tmp_path: Path
) -> None:
    job_dir = project.cs_file.parent  # J5 holds only J5_particles_selected.cs
    for arguments in ([job_dir], ["cryosparc-job", job_dir]):
        result = cli(*arguments, "-o", tmp_path / "o", *QUIET)
        assert result.exit_code == 1
        assert f"cryolike-convert {project.cs_file}" in result.stderr
        assert "Traceback" not in result.output


def test_star_csg_and_several_cs_files(project: ExampleProject, tmp_path: Path) -> None:
    relion = make_relion_project(tmp_path / "relion")
    result = cli(relion.star_file, "-o", tmp_path / "star", *QUIET)
    assert result.exit_code == 0, result.output
    assert converted(tmp_path / "star") == 12
    table = np.load(project.cs_file)
    main = [name for name in table.dtype.names if not name.startswith("ctf/")]
    passthrough = ["uid"] + [
        name for name in table.dtype.names if name.startswith("ctf/")
    ]
    job_dir = project.cs_file.parent
    write_cs(job_dir / "J5_split.cs", table[main].copy())
    write_cs(job_dir / "J5_passthrough_split.cs", table[passthrough][::-1].copy())
    several = cli(
        job_dir / "J5_split.cs",
        job_dir / "J5_passthrough_split.cs",
        "-o",
        tmp_path / "two",
        *QUIET,
    )
    assert several.exit_code == 0, several.output
    (job_dir / "J5_split.csg").write_text(
        "results:\n"
        "  blob:\n    metafile: '>J5_split.cs'\n    num_items: 12\n"
        "  ctf:\n    metafile: '>J5_passthrough_split.cs'\n    num_items: 12\n"
    )
    group = cli("cryosparc", job_dir / "J5_split.csg", "-o", tmp_path / "csg", *QUIET)
    assert group.exit_code == 0, group.output
    reference = cli(project.cs_file, "-o", tmp_path / "one", *QUIET)
    assert reference.exit_code == 0
    sums = {
        name: [
            s["checksums"]
            for s in json.loads((tmp_path / name / "manifest.json").read_text())[
                "stacks"
            ]
        ]
        for name in ("one", "two", "csg")
    }
    assert sums["one"] == sums["two"] == sums["csg"]


def test_wrong_mode_inputs_get_a_redirect(
    project: ExampleProject, job: ExampleJob, tmp_path: Path
) -> None:
    relion = make_relion_project(tmp_path / "relion")
    out = ["-o", tmp_path / "o", *QUIET]
    star_as_cs = cli("cryosparc", relion.star_file, *out)
    assert star_as_cs.exit_code == 1
    assert "is a RELION STAR file, not a CryoSPARC .cs file" in star_as_cs.stderr
    assert f"cryolike-convert star {relion.star_file}" in star_as_cs.stderr
    cs_as_star = cli("star", project.cs_file, *out)
    assert cs_as_star.exit_code == 1
    assert f"cryolike-convert cryosparc {project.cs_file}" in cs_as_star.stderr
    job_as_cs = cli("cryosparc", job.job_dir, *out)
    assert job_as_cs.exit_code == 1
    assert f"cryolike-convert cryosparc-job {job.job_dir}" in job_as_cs.stderr
    for result in (star_as_cs, cs_as_star, job_as_cs):
        assert "convert_particle_stacks" not in result.stderr
        assert not (tmp_path / "o" / "manifest.json").exists()


def test_datadir_is_an_alias_of_folder(project: ExampleProject, tmp_path: Path) -> None:
    extract = project.stacks[0].parent
    for flag in ("--folder", "--datadir"):
        out = tmp_path / flag.strip("-")
        result = cli(project.cs_file, flag, extract, "-o", out, *QUIET)
        assert result.exit_code == 0, result.output
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["inputs"]["folder"] == str(extract.resolve())
        assert {item["rule"] for item in manifest["stack_files"]} == {"folder"}


def test_box_precision_and_downsample_hints(
    project: ExampleProject, tmp_path: Path
) -> None:
    out = tmp_path / "box"
    result = cli(
        project.cs_file, "--box", 16, "--precision", "double", "-o", out, *QUIET
    )
    assert result.exit_code == 0, result.output
    assert "grid derived from the data: 16 px at 3.4 Å" in result.stdout
    assert ImageDescriptor.load(out / "params.npz").precision == "double"
    factor = cli(project.cs_file, "--downsample", 32, "-o", tmp_path / "f", *QUIET)
    assert factor.exit_code == 2
    assert "use --box 32" in factor.output
    both = cli(project.cs_file, "--downsample", 2, "--box", 16, "-o", tmp_path / "b")
    assert both.exit_code == 2
    assert "exclude each other" in both.output
    given = cli(
        project.cs_file,
        "--params",
        project.params,
        "--precision",
        "double",
        "-o",
        tmp_path / "p",
    )
    assert given.exit_code == 2
    assert "--precision" in given.output


def test_ind_uids_and_apply_sign(project: ExampleProject, tmp_path: Path) -> None:
    ind = tmp_path / "ind.npy"
    np.save(ind, np.array([1, 4, 7]))
    result = cli(project.cs_file, "--ind", ind, "-o", tmp_path / "ind", *QUIET)
    assert result.exit_code == 0, result.output
    assert "selected 3 of 12 rows with --ind; the 9 rows left out" in result.stdout
    uids = tmp_path / "uids.txt"
    uids.write_text("\n".join(str(u) for u in np.load(project.cs_file)["uid"][:5]))
    result = cli(
        project.cs_file, "--uids", uids, "--apply-sign", "-o", tmp_path / "uids", *QUIET
    )
    assert result.exit_code == 0, result.output
    assert converted(tmp_path / "uids") == 5
    manifest = json.loads((tmp_path / "uids" / "manifest.json").read_text())
    assert manifest["image_sign"]["applied"] is True
    unknown = tmp_path / "bad.txt"
    unknown.write_text("3 99\n")
    bad = cli(project.cs_file, "--ind", unknown, "-o", tmp_path / "bad", *QUIET)
    assert bad.exit_code == 1
    assert "99 is not a row number" in bad.stderr


def test_messages_use_flags(project: ExampleProject, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli(project.cs_file, "-o", out, "--batch-size", 4, *QUIET).exit_code == 0
    resumed = cli(project.cs_file, "-o", out, "--batch-size", 8, "--resume", *QUIET)
    assert resumed.exit_code == 1
    assert "\n  --batch-size: 4 vs 8\n" in resumed.stderr
    assert "pass --overwrite to start again" in resumed.stderr
    pixel = cli(project.cs_file, "--pixel-size", 2.5, "-o", tmp_path / "px", *QUIET)
    assert pixel.exit_code == 1
    assert "--pixel-size 2.5 Å was given" in pixel.stderr
    assert "leave out --pixel-size" in pixel.stderr
    project.stacks[0].unlink()
    missing = cli(project.cs_file, "-o", tmp_path / "missing", *QUIET)
    assert missing.exit_code == 1
    assert "(--folder / --project-dir) or pass --skip-missing" in missing.stderr
    mrcs, stars, _ = write_paired_star_inputs(tmp_path / "paired", sizes=(3, 2))
    pairs = cli(
        "star-pairs",
        "--mrc",
        mrcs[0],
        "--mrc",
        mrcs[1],
        "--star",
        stars[0],
        "-o",
        tmp_path / "pairs",
    )
    assert pairs.exit_code == 1
    assert "--mrc has 2 file(s) but --star has 1" in pairs.stderr
    for result in (resumed, pixel, missing, pairs):
        for python in ("overwrite=True", "pixel_size", "on_missing", "star_file_list"):
            assert python not in result.stderr


def test_a_missing_extra_names_what_to_install(
    project: ExampleProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails
    result = cli(project.cs_file, "--executor", "dask", "-o", tmp_path / "o", *QUIET)
    assert result.exit_code == 1
    assert "pip install 'cryolike-convert[dask]'" in result.stderr
    assert "(or use --executor local)" in result.stderr


def test_a_path_spelled_like_a_subcommand_is_ambiguous(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_cryosparc_job(tmp_path / "star", job_number=4)
    monkeypatch.chdir(tmp_path)
    result = cli("star", "--job", "J4", "-o", "out")
    assert result.exit_code == 2
    assert "'star' is both a subcommand and an input here" in result.output
    explicit = cli("./star", "--job", "J4", "-o", "out", *QUIET)
    assert explicit.exit_code == 0, explicit.output
    typo = cli("inspct", "out")
    assert typo.exit_code == 2
    assert "Did you mean 'inspect'" in typo.output
    nothing = cli("nothing_here.cs", "-o", "o2")
    assert nothing.exit_code == 1
    assert "nothing_here.cs: not found" in nothing.stderr


def convert(project: ExampleProject, out: Path, *extra: str) -> Any:
    arguments = ["cryosparc", str(project.cs_file)]
    arguments += ["--params", str(project.params), "--out", str(out)]
    arguments += ["--batch-size", "8", "--no-plots", *extra]
    return runner.invoke(app, arguments)


def test_a_locked_folder_names_its_holder(
    project: ExampleProject, tmp_path: Path
) -> None:
    held = acquire_output_lock(tmp_path / "out")
    try:
        result = convert(project, tmp_path / "out", "--resume")
    finally:
        held.release()
    assert result.exit_code == 1
    assert f"pid {os.getpid()} on host {this_host()}" in result.stderr
    assert "previous run" not in result.stderr
    assert "Traceback" not in result.output


def test_a_damaged_manifest_says_how_to_keep_the_stacks(
    project: ExampleProject, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert convert(project, out).exit_code == 0
    (out / "manifest.json").write_text("null")
    refused = convert(project, out)
    assert refused.exit_code == 1
    assert "error: " in refused.stderr
    assert "manifest.json: not a valid cryolike manifest (holds null" in refused.stderr
    assert "--resume" in refused.stderr
    rebuilt = convert(project, out, "--resume")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "rebuilt from 2 stack(s) on disk" in rebuilt.stderr
    assert "1 warning(s)" in rebuilt.stdout


def test_duplicates_are_warned_once_and_counted_in_the_summary(
    project: ExampleProject, tmp_path: Path
) -> None:
    table = np.load(project.cs_file, allow_pickle=False)
    table[5] = table[1]
    write_cs(project.cs_file, table)
    result = convert(project, tmp_path / "out")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(lines) == 2  # the repeated image and the repeated uid, once each
    assert "1 row(s) repeat the image of an earlier row" in lines[0]
    assert "row 5 repeats row 1" in lines[0]
    assert "repeat the uid" in lines[1]
    assert "converted 12 images into 2 stacks" in result.stdout
    assert "2 warning(s)" in result.stdout


@pytest.mark.parametrize(
    ("number", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)]
)
def test_an_interrupted_run_exits_with_the_signals_code(
    number: int,
    code: int,
    project: ExampleProject,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cryolike_convert.cli import console

    real = console.ProgressReporter.__call__

    def report_then_signal(self: Any, progress: Any) -> None:
        real(self, progress)
        if progress.stack is not None:
            os.kill(os.getpid(), number)

    monkeypatch.setattr(console.ProgressReporter, "__call__", report_then_signal)
    result = convert(project, tmp_path / "out")
    assert result.exit_code == code
    assert "interrupted: 1 stacks kept; rerun with --resume" in result.stderr
    assert "Aborted" not in result.output
    monkeypatch.undo()
    resumed = convert(project, tmp_path / "out", "--resume")
    assert resumed.exit_code == 0
