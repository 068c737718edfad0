"""Worker processes die with the run: PR_SET_PDEATHSIG and the stop of new children."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from cryolike_convert.execution.children import ChildProcesses, descendants
from tests.conftest import process_alive

# A parent that starts a child which asks to die with it, prints the child's pid,
# and waits to be killed.
PARENT = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", '''
import os, sys, time
from cryolike_convert.execution.children import die_with_parent
die_with_parent(int(sys.argv[1]))
print("ready", flush=True)
time.sleep(120)
''', str(os.getpid())], stdout=subprocess.PIPE)
assert child.stdout.readline().strip() == b"ready"
print(child.pid, flush=True)
time.sleep(120)
"""


def _wait_dead(pid: int, limit: float = 10.0) -> bool:
    deadline = time.monotonic() + limit
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not process_alive(pid)


def test_a_worker_dies_when_its_parent_is_killed_9() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert process_alive(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    parent.stdout.close()
    assert _wait_dead(child)


def test_a_worker_whose_parent_is_already_gone_exits() -> None:
    code = (
        "from cryolike_convert.execution.children import die_with_parent\n"
        "die_with_parent(1)\n"  # not our parent: as if it had died before this call
        "raise SystemExit(0)\n"
    )
    finished = subprocess.run([sys.executable, "-c", code], check=False)
    assert finished.returncode == 1


def test_stop_kills_only_processes_started_since() -> None:
    sleep = [sys.executable, "-c", "import time; time.sleep(120)"]
    old = subprocess.Popen(sleep)
    try:
        started = ChildProcesses()
        new = subprocess.Popen(sleep)
        assert new.pid in descendants()
        assert started.started() == {new.pid}
        assert started.stop() == [new.pid]
        assert not process_alive(new.pid)
        new.wait(timeout=10)  # already reaped by stop()
        assert process_alive(old.pid)
        assert os.getpid() not in descendants()
    finally:
        old.kill()
        old.wait()
