"""What the convert commands say about locks, damaged manifests, duplicates and signals."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from cryolike_convert.cli.app import app
from cryolike_convert.output.liveness import this_host
from cryolike_convert.output.lock import acquire_output_lock
from cryolike_convert.testing import ExampleProject, make_cryosparc_project, write_cs

runner = CliRunner()


@pytest.fixture
def project(tmp_path: Path) -> ExampleProject:
    return make_cryosparc_project(tmp_path / "project", n_particles=20)


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
    assert "rebuilt from 3 stack(s) on disk" in rebuilt.stderr
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
    assert "converted 20 images into 3 stacks" in result.stdout
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

    def report_then_signal(self: Any, record: Any, done: int, total: int) -> None:
        real(self, record, done, total)
        os.kill(os.getpid(), number)

    monkeypatch.setattr(console.ProgressReporter, "__call__", report_then_signal)
    result = convert(project, tmp_path / "out")
    assert result.exit_code == code
    assert "interrupted: 1 stacks kept; rerun with --resume" in result.stderr
    assert "Aborted" not in result.output
    monkeypatch.undo()
    resumed = convert(project, tmp_path / "out", "--resume")
    assert resumed.exit_code == 0
