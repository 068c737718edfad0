"""The output-folder lock: one run writes an output folder at a time.

Two mechanisms, recorded in the manifest (``lock``):

``os``
    ``fcntl.flock`` on ``OUT/.cryolike-convert.lock``, held for the run's life. The
    kernel releases it when the process dies, however it dies (``kill -9``, power
    loss), so it never goes stale.
``file``
    An atomic lock file (``O_CREAT | O_EXCL``) holding host, pid and start time,
    removed at the end of the run. Used on file systems where OS locks may be
    unsupported or local to one node (NFS, Lustre, GPFS, BeeGFS, CIFS, ...), and
    wherever ``flock`` fails. A lock file left by a dead process of this host is
    taken over; one left by another host is reported with the command to remove it.

The lock file of either mechanism names its holder, so that a refused run can say
who holds the folder. ``CRYOLIKE_CONVERT_LOCK=os|file`` forces a mechanism
(``auto``, the default, chooses by file system).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryolike_convert.errors import OutputError, OutputLockedError
from cryolike_convert.output.liveness import (
    process_alive,
    process_start_ticks,
    this_host,
)

LOCK_NAME = ".cryolike-convert.lock"
ENVIRONMENT = "CRYOLIKE_CONVERT_LOCK"
#: File systems whose ``flock`` may be unsupported, or local to one node (NFS with
#: ``local_lock``, Lustre with ``localflock``, ...): the lock file is used there.
SHARED_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "lustre",
        "gpfs",
        "beegfs",
        "cifs",
        "smb3",
        "smbfs",
        "ceph",
        "fuse.ceph",
        "glusterfs",
        "fuse.glusterfs",
        "fuse.sshfs",
        "fuse.gcsfuse",
        "fuse.s3fs",
        "fuse.rclone",
        "panfs",
        "wekafs",
        "orangefs",
        "pvfs2",
        "afs",
        "9p",
    }
)
#: ``flock`` errors that mean "not supported here" (rather than "held").
_UNSUPPORTED = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL, errno.EIO}
_ATTEMPTS = 8


def _unescape_mount(text: str) -> str:
    # /proc/mounts writes space, tab, newline and backslash as octal escapes.
    for code in ("\\040", "\\011", "\\012", "\\134"):
        text = text.replace(code, chr(int(code[1:], 8)))
    return text


def filesystem_type(path: Path, mount_table: str | None = None) -> str | None:
    """The type of the file system holding ``path`` (from ``/proc/self/mounts``).

    ``mount_table`` replaces the contents of ``/proc/self/mounts``. Returns
    ``None`` where the mount table cannot be read (not Linux).
    """
    if mount_table is None:
        try:
            mount_table = Path("/proc/self/mounts").read_text()
        except OSError:
            return None
    lines = mount_table.splitlines()
    target = os.path.realpath(path)
    best: tuple[int, str] | None = None
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        mount = _unescape_mount(parts[1])
        inside = target == mount or target.startswith(mount.rstrip("/") + "/")
        if inside and (best is None or len(mount) >= best[0]):
            best = (len(mount), parts[2])
    return None if best is None else best[1]


def choose_mechanism(root: Path) -> tuple[str, str]:
    """``('os' | 'file', why)`` for an output folder."""
    forced = os.environ.get(ENVIRONMENT, "auto").strip().lower()
    if forced in ("os", "file"):
        return forced, f"{ENVIRONMENT}={forced}"
    kind = filesystem_type(root)
    if kind is not None and kind in SHARED_FILESYSTEMS:
        return "file", (
            f"{kind} file system: OS locks may be unsupported or local to one node"
        )
    return "os", f"flock on a {kind or 'local'} file system"


@dataclass
class OutputLock:
    """The lock of one output folder, held by this process until :meth:`release`.

    Attributes
    ----------
    path
        The lock file.
    mechanism
        ``'os'`` (``flock``) or ``'file'`` (atomic lock file).
    reason
        Why this mechanism is used.
    holder
        What the lock file says: ``pid``, ``host``, ``started``, ``mechanism``.
    took_over
        The holder of a stale lock file that was taken over, if any.
    """

    path: Path
    mechanism: str
    reason: str
    holder: dict[str, Any]
    took_over: dict[str, Any] | None = None
    _descriptor: int | None = field(default=None, repr=False)

    def describe(self) -> dict[str, Any]:
        """What the manifest and the report say about the lock."""
        described: dict[str, Any] = {
            "mechanism": self.mechanism,
            "reason": self.reason,
            "file": self.path.name,
        }
        if self.took_over is not None:
            described["took_over_stale"] = _holder_text(self.took_over)
        return described

    def release(self) -> None:
        """Remove the lock file (if it is still this run's) and release the lock."""
        try:
            if self._descriptor is not None:
                try:
                    if _same_file(self._descriptor, self.path):
                        self.path.unlink()
                except OSError:
                    pass
            elif _read_holder(self.path).get("token") == self.holder["token"]:
                self.path.unlink(missing_ok=True)
        except OSError:
            pass
        finally:
            if self._descriptor is not None:
                os.close(self._descriptor)  # releases the flock
                self._descriptor = None

    def __enter__(self) -> OutputLock:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


def _new_holder(mechanism: str) -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "host": this_host(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "process_start": process_start_ticks(os.getpid()),
        "mechanism": mechanism,
        "token": secrets.token_hex(8),
    }


def _holder_text(holder: dict[str, Any]) -> str:
    if not holder.get("pid"):
        return "a run whose details are not yet written"
    return (
        f"pid {holder.get('pid')} on host {holder.get('host', '?')}, "
        f"started {holder.get('started', '?')}"
    )


def _parse(data: bytes) -> dict[str, Any]:
    try:
        holder = json.loads(data.decode("utf-8", errors="replace") or "{}")
    except ValueError:
        return {}
    return holder if isinstance(holder, dict) else {}


def _read_holder(path: Path) -> dict[str, Any]:
    try:
        return _parse(path.read_bytes())
    except OSError:
        return {}


def _read_descriptor(descriptor: int) -> dict[str, Any]:
    try:
        return _parse(os.pread(descriptor, 1 << 16, 0))
    except OSError:
        return {}


def _same_file(descriptor: int, path: Path) -> bool:
    mine = os.fstat(descriptor)
    try:
        there = os.stat(path)
    except FileNotFoundError:
        return False
    return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)


def _stale(holder: dict[str, Any]) -> bool:
    """A lock file whose holder is known dead: a process of this host that is gone."""
    pid = holder.get("pid")
    if not isinstance(pid, int) or holder.get("host") != this_host():
        return False
    start = holder.get("process_start")
    return not process_alive(pid, start if isinstance(start, int) else None)


def _refuse(root: Path, path: Path, holder: dict[str, Any]) -> OutputLockedError:
    text = (
        f"{root}: another run is writing this output folder ({_holder_text(holder)}); "
        "wait for it to finish or stop it, then rerun (with --resume to continue "
        "its stacks)"
    )
    if holder.get("host") not in (None, this_host()):
        text += (
            f". If no run on {holder.get('host')} writes here any more, remove "
            f"{path} and rerun"
        )
    return OutputLockedError(text, holder=holder)


def _make_folder(root: Path) -> None:
    try:
        if root.exists() and not root.is_dir():
            raise OutputError(
                f"{root}: exists and is not a folder; choose another output"
            )
        root.mkdir(parents=True, exist_ok=True)
    except OutputError:
        raise
    except OSError as err:
        raise OutputError(
            f"{root}: cannot be created ({err.strerror or err}); choose another output "
            "or fix permissions"
        ) from err


def acquire_output_lock(root: Path) -> OutputLock:
    """Create ``root`` if needed and lock it for this run.

    Raises
    ------
    OutputLockedError
        If another run holds the folder, naming it (pid, host, start time).
    OutputError
        If the folder cannot be created or the lock file cannot be written.
    """
    _make_folder(root)
    path = root / LOCK_NAME
    mechanism, reason = choose_mechanism(root)
    try:
        if mechanism == "os":
            lock = _acquire_flock(root, path, reason)
            if lock is not None:
                return lock
            mechanism, reason = "file", f"flock failed here ({reason})"
        return _acquire_lock_file(root, path, reason)
    except OutputError:
        raise
    except OSError as err:
        raise OutputError(
            f"{path}: the output folder's lock file cannot be written "
            f"({err.strerror or err}); fix permissions or choose another output"
        ) from err


def _acquire_flock(root: Path, path: Path, reason: str) -> OutputLock | None:
    """The flock of ``path``, or ``None`` where flock is not supported."""
    for _ in range(_ATTEMPTS):
        flags = os.O_RDWR | os.O_CLOEXEC
        try:
            descriptor = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o644)
            created = True
        except FileExistsError:
            try:
                descriptor = os.open(path, flags)
            except FileNotFoundError:
                continue  # released meanwhile
            created = False
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_descriptor(descriptor)
            os.close(descriptor)
            raise _refuse(root, path, holder) from None
        except OSError as err:
            os.close(descriptor)
            if err.errno in _UNSUPPORTED:
                if created:  # leave the lock file to the fallback, as it was
                    path.unlink(missing_ok=True)
                return None
            raise
        if not _same_file(descriptor, path):  # released and removed meanwhile
            os.close(descriptor)
            continue
        previous = _read_descriptor(descriptor)
        if previous.get("mechanism") == "file" and not _stale(previous):
            os.close(descriptor)  # a lock-file holder (another node, or alive)
            raise _refuse(root, path, previous)
        holder = _new_holder("os")
        data = json.dumps(holder).encode()
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, data, 0)
        os.fsync(descriptor)
        took_over = previous if previous.get("pid") else None
        return OutputLock(path, "os", reason, holder, took_over, descriptor)
    raise OutputError(f"{path}: the lock file keeps changing; is another run starting?")


def _acquire_lock_file(root: Path, path: Path, reason: str) -> OutputLock:
    took_over: dict[str, Any] | None = None
    for _ in range(_ATTEMPTS):
        holder = _new_holder("file")
        try:
            descriptor = os.open(
                path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644
            )
        except FileExistsError:
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue  # released meanwhile
            existing = _parse(data)
            if not existing and time.time() - _mtime(path) < 10:
                time.sleep(0.05)  # being written by a run starting now
                continue
            if existing and not _stale(existing):
                raise _refuse(root, path, existing) from None
            _remove_stale(path, data)
            took_over = existing
            continue
        try:
            os.write(descriptor, json.dumps(holder).encode())
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        return OutputLock(path, "file", reason, holder, took_over)
    raise OutputError(f"{path}: the lock file keeps changing; is another run starting?")


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _remove_stale(path: Path, seen: bytes) -> None:
    """Remove the stale lock file ``path`` whose bytes were ``seen`` (and only it)."""
    aside = path.with_name(f"{LOCK_NAME}.stale.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return  # another run took it over first
    try:
        if aside.read_bytes() != seen:
            # A new holder's file was moved aside: put it back (unless yet another
            # run created one meanwhile, which then holds the folder).
            with contextlib.suppress(FileExistsError):
                os.link(aside, path)
    finally:
        aside.unlink(missing_ok=True)


__all__ = [
    "ENVIRONMENT",
    "LOCK_NAME",
    "SHARED_FILESYSTEMS",
    "OutputLock",
    "acquire_output_lock",
    "choose_mechanism",
    "filesystem_type",
]
