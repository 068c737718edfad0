"""A conversion killed (SIGKILL) at random moments and resumed ends byte-identical."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from cryolike_convert.compat import (
    convert_particle_stacks_from_indexed_cryosparc_file as convert,
)
from cryolike_convert.testing import make_cryosparc_project

# The child converts with small stacks (many files) and a slow disk: every fsync
# sleeps a few ms *before* syncing, while the data sits under its temporary name,
# so that kills land inside writes as well as between them.
CHILD = """
import os, sys, time
real_fsync = os.fsync
def slow_fsync(descriptor):
    time.sleep(0.003)
    real_fsync(descriptor)
os.fsync = slow_fsync
from cryolike_convert.compat import convert_particle_stacks_from_indexed_cryosparc_file
convert_particle_stacks_from_indexed_cryosparc_file(
    sys.argv[1], sys.argv[2], folder_output=sys.argv[3], batch_size=2,
    flag_plots=False, skip_exist=True,
)
"""
N_PARTICLES = 64
MIN_KILLS = 10
MAX_ATTEMPTS = 30


def _temporaries(out: Path) -> list[Path]:
    found: list[Path] = []
    for folder in (out, out / "fft", out / "phys"):
        try:
            found += [
                Path(e.path) for e in os.scandir(folder) if e.name.endswith(".tmp")
            ]
        except FileNotFoundError:
            continue
    return found


def _wait_for(
    condition: object, process: subprocess.Popen[bytes], limit: float
) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and process.poll() is None:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.0005)
    return False


def _kill_once(
    command: list[str], out: Path, rng: np.random.Generator, env: dict[str, str]
) -> tuple[bool, bool]:
    """Start the child, kill it at a random moment; (killed while running, in a write)."""
    manifest = out / "manifest.json"
    before = manifest.stat().st_ino if manifest.exists() else None
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
    suffix = f".{process.pid}.tmp"

    def mine() -> list[Path]:
        return [p for p in _temporaries(out) if p.name.endswith(suffix)]

    def converting() -> bool:  # the child has (re)written the manifest
        try:
            return manifest.stat().st_ino != before
        except FileNotFoundError:
            return False

    try:
        started = _wait_for(converting, process, 30)
        during_write = bool(rng.random() < 0.5)
        if started and during_write:
            seen: set[Path] = set()
            wanted = int(rng.integers(1, 9))

            def nth_temporary() -> bool:
                seen.update(mine())
                return len(seen) >= wanted

            caught = _wait_for(nth_temporary, process, 10)
            during_write = caught and bool(mine())
        elif started:
            time.sleep(float(rng.uniform(0.0, 0.25)))
        running = process.poll() is None
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
    return running, running and during_write


def _outputs(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.glob("*/*"))
        if p.suffix in (".pt", ".npz")
    }


def test_killed_and_resumed_runs_give_identical_bytes(tmp_path: Path) -> None:
    project = make_cryosparc_project(tmp_path / "project", n_particles=N_PARTICLES)
    reference = tmp_path / "reference"
    convert(
        project.params,
        project.cs_file,
        folder_output=reference,
        batch_size=2,
        flag_plots=False,
    )
    out = tmp_path / "killed"
    command = [
        sys.executable,
        "-c",
        CHILD,
        str(project.params),
        str(project.cs_file),
        str(out),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    rng = np.random.default_rng(20240611)
    kills = in_write = attempts = 0
    while kills < MIN_KILLS and attempts < MAX_ATTEMPTS:
        attempts += 1
        running, writing = _kill_once(command, out, rng, env)
        kills += running
        in_write += writing
        manifest = json.loads((out / "manifest.json").read_text())
        for entry in manifest["stacks"]:  # a listed stack is always complete
            for kind, relative in entry["files"].items():
                data = (out / relative).read_bytes()
                assert data == (reference / relative).read_bytes(), (kind, relative)
    assert kills >= MIN_KILLS
    assert in_write >= 3
    finished = subprocess.run(command, env=env, capture_output=True, check=False)
    assert finished.returncode == 0, finished.stderr.decode()[-2000:]
    assert _outputs(out) == _outputs(reference)
    assert len(_outputs(out)) == 3 * N_PARTICLES // 2
    assert not _temporaries(out)
    final = json.loads((out / "manifest.json").read_text())
    expected = json.loads((reference / "manifest.json").read_text())
    assert final["stacks"] == expected["stacks"]
    assert final["totals"] == expected["totals"]
    assert final["status"] == "complete"
