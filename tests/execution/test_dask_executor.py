"""Conversion on a dask.distributed cluster: same bytes, retries, missing extra."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cryolike_convert.cli.app import app
from cryolike_convert.compat import (
    convert_particle_stacks_from_indexed_cryosparc_file as convert,
)
from cryolike_convert.errors import ImageStackError, MissingDependencyError
from cryolike_convert.execution.batch import BatchTask, StackRecord
from cryolike_convert.execution.stream import convert_batch
from cryolike_convert.options import ConversionOptions, OptionError
from cryolike_convert.testing import ExampleProject, make_cryosparc_project

KILLED_STACK = 1


@pytest.fixture(scope="module")
def scheduler_address() -> Iterator[str]:
    """A two-worker LocalCluster on loopback, shared by this module's tests."""
    from distributed import LocalCluster

    with LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        scheduler_port=0,
        dashboard_address=":0",
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def shared_project(tmp_path_factory: pytest.TempPathFactory) -> ExampleProject:
    """One synthetic project (48 particles in 3 stacks) for the module."""
    return make_cryosparc_project(tmp_path_factory.mktemp("dask") / "project")


@pytest.fixture(scope="module")
def local_output(
    shared_project: ExampleProject, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The serial (local) conversion every Dask run must reproduce byte for byte."""
    out = tmp_path_factory.mktemp("local") / "out"
    run(shared_project, out)
    return out


def run(project: ExampleProject, out: Path, **kwargs: Any) -> Any:
    return convert(
        project.params,
        project.cs_file,
        folder_output=out,
        batch_size=10,
        flag_plots=False,
        **kwargs,
    )


def assert_same_output(expected: Path, actual: Path) -> None:
    """Every stack file equal byte for byte; the manifests' stack entries equal."""
    files = sorted(p.relative_to(expected) for p in expected.glob("*/*"))
    assert [p.as_posix() for p in files if p.suffix == ".pt"][:1] == [
        "fft/particles_fourier_stack_000000.pt"
    ]
    assert files == sorted(p.relative_to(actual) for p in actual.glob("*/*"))
    for relative in files:
        assert (expected / relative).read_bytes() == (actual / relative).read_bytes()
    manifests = [
        json.loads((d / "manifest.json").read_text()) for d in (expected, actual)
    ]
    assert manifests[0]["stacks"] == manifests[1]["stacks"]
    assert manifests[0]["totals"] == manifests[1]["totals"]
    assert manifests[1]["status"] == "complete"
    assert not list(actual.glob("**/*.tmp"))


def test_cluster_output_is_identical_to_local(
    shared_project: ExampleProject,
    local_output: Path,
    scheduler_address: str,
    tmp_path: Path,
) -> None:
    numbers: list[int] = []
    report = run(
        shared_project,
        tmp_path / "out",
        executor="dask",
        scheduler_address=scheduler_address,
        progress=lambda status: numbers.extend(
            [status.stack.number] if status.stack else []
        ),
    )
    assert (report.n_converted, report.n_stacks) == (48, 5)
    assert numbers == [0, 1, 2, 3, 4]
    assert_same_output(local_output, tmp_path / "out")


def test_own_local_cluster_is_started_and_closed(
    shared_project: ExampleProject, local_output: Path, tmp_path: Path
) -> None:
    run(shared_project, tmp_path / "out", executor="dask", workers=2)
    assert_same_output(local_output, tmp_path / "out")


def kill_worker_once(task: BatchTask) -> StackRecord:
    """Write the stack, then kill this worker the first time stack 1 is written."""
    record = convert_batch(task)
    marker = task.root.parent / f"killed-{task.plan.number}"
    if task.plan.number == KILLED_STACK and not marker.exists():
        marker.touch()
        os._exit(1)
    return record


def test_killed_worker_loses_and_duplicates_nothing(
    shared_project: ExampleProject,
    local_output: Path,
    scheduler_address: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        "cryolike_convert.execution.executors.convert_batch", kill_worker_once
    )
    report = run(
        shared_project,
        tmp_path / "out",
        executor="dask",
        scheduler_address=scheduler_address,
    )
    assert (tmp_path / f"killed-{KILLED_STACK}").exists()
    assert report.n_converted == 48
    assert_same_output(local_output, tmp_path / "out")


def test_conversion_error_is_raised_from_the_worker(
    shared_project: ExampleProject, scheduler_address: str, tmp_path: Path
) -> None:
    project = make_cryosparc_project(tmp_path / "flat")
    import mrcfile

    with mrcfile.open(project.stacks[0], mode="r+") as mrc:
        mrc.data[3] = 0.0
    with pytest.raises(ImageStackError, match="on_invalid='skip'"):
        run(
            project,
            tmp_path / "out",
            executor="dask",
            scheduler_address=scheduler_address,
        )
    assert not list((tmp_path / "out").glob("*/*.pt"))


def test_cli_runs_on_a_scheduler(
    shared_project: ExampleProject,
    local_output: Path,
    scheduler_address: str,
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "cryosparc",
            str(shared_project.cs_file),
            "--params",
            str(shared_project.params),
            "--out",
            str(out),
            "--batch-size",
            "10",
            "--no-plots",
            "--quiet",
            "--executor",
            "dask",
            "--scheduler",
            scheduler_address,
        ],
    )
    assert result.exit_code == 0, result.output
    assert_same_output(local_output, out)


def test_without_dask_the_error_names_the_extra(
    shared_project: ExampleProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(
        MissingDependencyError, match=r"pip install 'cryolike-convert\[dask\]'"
    ):
        run(shared_project, tmp_path / "out", executor="dask")
    assert not list((tmp_path / "out").glob("*/*.pt"))


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"executor": "ray"}, "executor must be 'local' or 'dask'"),
        ({"scheduler_address": "tcp://127.0.0.1:8786"}, "only used with executor"),
        ({"executor": "dask", "scheduler_address": " "}, "tcp://host:8786"),
    ],
)
def test_executor_options_are_checked(changes: dict[str, Any], match: str) -> None:
    with pytest.raises(OptionError, match=match):
        ConversionOptions(**changes)
