"""The output-folder lock: flock, the lock-file fallback, stale and foreign holders."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cryolike_convert.errors import OutputError, OutputLockedError
from cryolike_convert.output import lock as lock_module
from cryolike_convert.output.liveness import process_start_ticks, this_host
from cryolike_convert.output.lock import (
    ENVIRONMENT,
    LOCK_NAME,
    acquire_output_lock,
    choose_mechanism,
    filesystem_type,
)
from tests.conftest import dead_pid

MOUNTS = """\
/dev/vda / ext4 rw,relatime 0 0
server:/export /data nfs4 rw,relatime,vers=4.2 0 0
10.0.0.1@tcp:/scratch /lus lustre rw,flock 0 0
/dev/gpfs0 /gpfs/home gpfs rw 0 0
tmpfs /data/local\\040disk tmpfs rw 0 0
"""


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/data/run1/out", "nfs4"),
        ("/lus/user/out", "lustre"),
        ("/gpfs/home/me", "gpfs"),
        ("/data/local disk/out", "tmpfs"),
        ("/home/me/out", "ext4"),
        ("/datum/out", "ext4"),  # a prefix of a name is not a mount point
    ],
)
def test_filesystem_type_takes_the_deepest_mount(path: str, kind: str) -> None:
    assert filesystem_type(Path(path), MOUNTS) == kind


def test_the_real_mount_table_is_read(tmp_path: Path) -> None:
    kind = filesystem_type(tmp_path)
    assert isinstance(kind, str)
    assert kind


@pytest.mark.parametrize("kind", ["nfs", "nfs4", "lustre", "gpfs", "beegfs", "cifs"])
def test_shared_file_systems_use_the_lock_file(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENVIRONMENT, raising=False)
    monkeypatch.setattr(lock_module, "filesystem_type", lambda path: kind)
    mechanism, reason = choose_mechanism(tmp_path)
    assert mechanism == "file"
    assert kind in reason


def test_local_file_systems_use_flock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENVIRONMENT, raising=False)
    monkeypatch.setattr(lock_module, "filesystem_type", lambda path: "ext4")
    assert choose_mechanism(tmp_path)[0] == "os"
    monkeypatch.setenv(ENVIRONMENT, "file")
    assert choose_mechanism(tmp_path) == ("file", f"{ENVIRONMENT}=file")


@pytest.mark.parametrize("mechanism", ["os", "file"])
def test_a_second_holder_is_refused_with_the_first_named(
    mechanism: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENVIRONMENT, mechanism)
    first = acquire_output_lock(tmp_path / "out")
    assert first.mechanism == mechanism
    with pytest.raises(OutputLockedError) as refused:
        acquire_output_lock(tmp_path / "out")
    text = str(refused.value)
    assert f"pid {os.getpid()}" in text
    assert f"host {this_host()}" in text
    assert first.holder["started"] in text
    assert refused.value.holder["pid"] == os.getpid()
    first.release()
    assert not (tmp_path / "out" / LOCK_NAME).exists()
    second = acquire_output_lock(tmp_path / "out")  # free again
    second.release()


def test_flock_is_held_while_the_lock_lives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENVIRONMENT, "os")
    held = acquire_output_lock(tmp_path)
    descriptor = os.open(tmp_path / LOCK_NAME, os.O_RDONLY)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.release()
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released
    finally:
        os.close(descriptor)


def test_failing_flock_falls_back_to_the_lock_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENVIRONMENT, "os")

    def unsupported(descriptor: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", unsupported)
    held = acquire_output_lock(tmp_path)
    assert held.mechanism == "file"
    assert "flock failed" in held.reason
    recorded = json.loads((tmp_path / LOCK_NAME).read_text())
    assert recorded["pid"] == os.getpid()
    assert recorded["host"] == this_host()
    assert recorded["mechanism"] == "file"
    held.release()
    assert not (tmp_path / LOCK_NAME).exists()


def _write_holder(folder: Path, **holder: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    path.write_text(json.dumps(holder))
    return path


@pytest.mark.parametrize("mechanism", ["os", "file"])
def test_a_stale_lock_file_of_a_dead_local_process_is_taken_over(
    mechanism: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENVIRONMENT, mechanism)
    pid = dead_pid()
    _write_holder(
        tmp_path,
        pid=pid,
        host=this_host(),
        started="2020-01-01T00:00:00+0000",
        mechanism="file",
        token="old",
    )
    held = acquire_output_lock(tmp_path)
    assert held.took_over is not None
    assert held.took_over["pid"] == pid
    assert str(pid) in held.describe()["took_over_stale"]
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    held.release()


def test_a_reused_pid_does_not_keep_a_lock_alive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENVIRONMENT, "file")
    start = process_start_ticks(os.getpid())
    assert start is not None
    _write_holder(
        tmp_path,
        pid=os.getpid(),  # alive, but not the process that started at that time
        host=this_host(),
        started="2020-01-01T00:00:00+0000",
        process_start=start - 1,
        mechanism="file",
        token="old",
    )
    held = acquire_output_lock(tmp_path)
    assert held.took_over is not None
    held.release()


@pytest.mark.parametrize("mechanism", ["os", "file"])
def test_a_lock_file_of_a_live_local_process_is_respected(
    mechanism: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENVIRONMENT, mechanism)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        path = _write_holder(
            tmp_path,
            pid=sleeper.pid,
            host=this_host(),
            started="2030-01-01T00:00:00+0000",
            mechanism="file",
            token="theirs",
        )
        with pytest.raises(OutputLockedError, match=f"pid {sleeper.pid}"):
            acquire_output_lock(tmp_path)
        assert json.loads(path.read_text())["token"] == "theirs"  # untouched
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_lock_file_of_another_host_says_how_to_remove_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENVIRONMENT, "file")
    path = _write_holder(
        tmp_path,
        pid=4242,
        host="gpu-node-17",
        started="2030-01-01T00:00:00+0000",
        mechanism="file",
        token="theirs",
    )
    with pytest.raises(OutputLockedError) as refused:
        acquire_output_lock(tmp_path)
    text = str(refused.value)
    assert "pid 4242 on host gpu-node-17" in text
    assert "2030-01-01T00:00:00+0000" in text
    assert f"remove {path}" in text
    assert path.exists()


def test_a_file_in_place_of_the_folder_is_an_output_error(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("not a folder")
    with pytest.raises(OutputError, match="not a folder"):
        acquire_output_lock(tmp_path / "out")
