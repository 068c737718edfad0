"""Ctrl-C, SIGTERM and kill -9 of a real command-line run with worker processes.

The run is started in its own session, its descendant processes are tracked from
``/proc`` while it runs, and after it ends none of them may live on (a zombie
waiting for ``init`` to reap it counts as dead).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cryolike_convert.execution.children import descendants
from cryolike_convert.formats.checksum import file_checksum
from cryolike_convert.testing import ExampleProject, make_cryosparc_project
from tests.conftest import process_alive

N_PARTICLES = 400
BATCH = 8
STACKS_BEFORE_SIGNAL = 2


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> ExampleProject:
    root = tmp_path_factory.mktemp("signals")
    return make_cryosparc_project(root / "project", n_particles=N_PARTICLES, n_stacks=4)


def _command(project: ExampleProject, out: Path, executor: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "cryolike_convert",
        "cryosparc",
        str(project.cs_file),
        "--params",
        str(project.params),
        "-o",
        str(out),
        "--batch-size",
        str(BATCH),
        "--no-plots",
        "--workers",
        "2",
        "--executor",
        executor,
    ]


def _recorded(out: Path) -> int:
    try:
        return len(json.loads((out / "manifest.json").read_text())["stacks"])
    except (OSError, ValueError, KeyError):
        return 0


def _start_and_wait(
    project: ExampleProject, out: Path, executor: str
) -> tuple[subprocess.Popen[bytes], set[int]]:
    """Start a run; return once it has recorded a few stacks, with its descendants."""
    process = subprocess.Popen(
        _command(project, out, executor),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    seen: set[int] = set()
    deadline = time.monotonic() + 240
    while _recorded(out) < STACKS_BEFORE_SIGNAL and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1].decode()[-2000:]
        seen |= descendants(process.pid)
        time.sleep(0.02)
    seen |= descendants(process.pid)
    assert process.poll() is None, "the run ended before it could be interrupted"
    if executor == "dask":  # local runs use threads; a local cluster has processes
        assert seen, "the run started no worker process"
    return process, seen


def _survivors(seen: set[int], limit: float = 15.0) -> list[int]:
    deadline = time.monotonic() + limit
    alive = [pid for pid in seen if process_alive(pid)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [pid for pid in alive if process_alive(pid)]
    return alive


def _stack_files(out: Path) -> set[str]:
    return {
        p.relative_to(out).as_posix()
        for folder in ("fft", "phys")
        for p in (out / folder).glob("particles_*")
    }


@pytest.mark.parametrize(
    ("name", "executor", "whole_group"),
    [
        ("SIGINT", "local", True),  # Ctrl-C: the terminal signals the whole group
        ("SIGTERM", "local", False),  # kill PID
        ("SIGTERM", "dask", False),  # SLURM's time limit, with a local Dask cluster
    ],
)
def test_an_interrupted_run_keeps_its_stacks_and_leaves_no_process(
    name: str,
    executor: str,
    whole_group: bool,
    project: ExampleProject,
    tmp_path: Path,
) -> None:
    number = getattr(signal, name)
    out = tmp_path / "out"
    process, seen = _start_and_wait(project, out, executor)
    if whole_group:
        os.killpg(process.pid, number)
    else:
        process.send_signal(number)
    _, stderr = process.communicate(timeout=120)
    message = stderr.decode()
    assert process.returncode == 128 + number, message[-2000:]
    assert _survivors(seen) == []
    manifest = json.loads((out / "manifest.json").read_text())
    kept = len(manifest["stacks"])
    assert kept >= STACKS_BEFORE_SIGNAL
    assert f"interrupted: {kept} stacks kept; rerun with --resume" in message
    assert "Traceback" not in message
    assert manifest["status"] == "interrupted"
    recorded = set()
    for entry in manifest["stacks"]:
        for kind, relative in entry["files"].items():
            assert file_checksum(out / relative) == entry["checksums"][kind]
            recorded.add(relative)
    assert _stack_files(out) == recorded  # nothing unrecorded or half-written
    assert not list(out.rglob("*.tmp"))
    assert not (out / ".cryolike-convert.lock").exists()


def test_kill_9_of_the_run_takes_its_workers_with_it(
    project: ExampleProject, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    process, seen = _start_and_wait(project, out, "local")
    process.kill()
    process.communicate(timeout=60)
    assert _survivors(seen) == []
    files = _stack_files(out)
    time.sleep(1.0)
    assert _stack_files(out) == files  # no orphan keeps writing
    resumed = subprocess.run(
        [*_command(project, out, "local"), "--resume"],
        capture_output=True,
        check=False,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["totals"]["n_converted"] == N_PARTICLES


def test_ctrl_c_while_workers_start_prints_only_our_message(
    project: ExampleProject, tmp_path: Path
) -> None:
    # Local runs use threads; a local Dask cluster is where worker processes start.
    out = tmp_path / "out"
    process = subprocess.Popen(
        _command(project, out, "dask"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    seen: set[int] = set()
    deadline = time.monotonic() + 240
    while not seen and process.poll() is None and time.monotonic() < deadline:
        seen = descendants(process.pid)  # the first worker is starting
        time.sleep(0.002)
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    message = stderr.decode()
    assert process.returncode == 130, message[-2000:]
    assert "Traceback" not in message  # no worker died noisily mid-import
    assert "interrupted: " in message
    assert _survivors(seen | descendants(process.pid)) == []
