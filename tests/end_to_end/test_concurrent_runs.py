"""Two real processes on one output folder: the second is refused, the first unharmed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cryolike_convert.output.liveness import this_host
from cryolike_convert.output.lock import ENVIRONMENT, LOCK_NAME
from cryolike_convert.review.verify import verify_output
from cryolike_convert.testing import make_cryosparc_project

# The first run pauses in the middle of writing stack 2 (its temporary files on
# disk) for as long as the gate file exists.
GATED_RUN = """
import os, sys, time
gate = sys.argv[1]
real_fsync = os.fsync
def gated_fsync(descriptor):
    name = os.readlink(f"/proc/self/fd/{descriptor}")
    if "stack_000002" in name and name.endswith(".tmp"):
        while os.path.exists(gate):
            time.sleep(0.01)
    real_fsync(descriptor)
os.fsync = gated_fsync
from cryolike_convert.cli.app import app
app(sys.argv[2:])
"""


def _in_flight(out: Path, pid: int) -> list[Path]:
    """Temporary files of stack 2 written by process ``pid``."""
    return sorted((out / "fft").glob(f".particles_fourier_stack_000002.*.{pid}.tmp"))


@pytest.mark.parametrize("mechanism", ["os", "file"])
def test_a_second_run_is_refused_naming_the_first(
    mechanism: str, tmp_path: Path
) -> None:
    project = make_cryosparc_project(tmp_path / "project", n_particles=96)
    out = tmp_path / "out"
    arguments = [
        "cryosparc",
        str(project.cs_file),
        "--params",
        str(project.params),
        "-o",
        str(out),
        "--batch-size",
        "4",
        "--no-plots",
        "--workers",
        "1",
    ]
    env = {**os.environ, ENVIRONMENT: mechanism, "OMP_NUM_THREADS": "1"}
    gate = tmp_path / "gate"
    gate.touch()
    first = subprocess.Popen(
        [sys.executable, "-c", GATED_RUN, str(gate), *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        deadline = time.monotonic() + 120
        while not _in_flight(out, first.pid) and time.monotonic() < deadline:
            assert first.poll() is None, first.communicate()[1].decode()[-2000:]
            time.sleep(0.01)
        in_flight = _in_flight(out, first.pid)
        assert in_flight, "the first run never reached stack 2"
        holder = json.loads((out / LOCK_NAME).read_text())
        assert holder["pid"] == first.pid
        assert holder["mechanism"] == mechanism
        seconds = [
            subprocess.Popen(
                [sys.executable, "-m", "cryolike_convert", *arguments, *extra],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
            )
            for extra in (["--resume"], ["--overwrite"], [])
        ]
        for second in seconds:
            _, error = second.communicate(timeout=300)
            message = error.decode()
            assert second.returncode == 1, message
            assert "another run is writing this output folder" in message
            assert f"pid {first.pid} on host {this_host()}" in message
            assert f"started {holder['started']}" in message
        assert first.poll() is None
        assert all(path.exists() for path in in_flight)  # its temporaries untouched
        gate.unlink()
        stdout, stderr = first.communicate(timeout=300)
    finally:
        gate.unlink(missing_ok=True)
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, stderr.decode()[-2000:]
    assert "converted 96 images into 24 stacks" in stdout.decode()
    report = verify_output(out)
    assert report.ok, [str(problem) for problem in report.problems]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["lock"]["mechanism"] == mechanism
    assert not (out / LOCK_NAME).exists()
