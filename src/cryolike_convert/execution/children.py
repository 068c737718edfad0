"""Child processes of a run: none may outlive it.

Workers call :func:`die_with_parent` when they start, so that the kernel kills
them (SIGKILL) when the process that started them dies, even of ``kill -9``
(Linux ``PR_SET_PDEATHSIG``). A run takes a :class:`ChildProcesses` snapshot when
it starts and, when it stops early, kills whatever descendant processes it started
that are still alive (multiprocessing's resource tracker excepted: it exits by
itself when its last user does).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from cryolike_convert.output.liveness import process_alive

_PR_SET_PDEATHSIG = 1
#: Seconds to wait for killed children to be reaped.
REAP_SECONDS = 5.0


def die_with_parent(parent_pid: int | None = None) -> None:
    """Have the kernel kill this process when its parent dies (Linux; else nothing).

    Parameters
    ----------
    parent_pid
        The parent's pid as the parent saw it; if this process's parent is
        already another one (the parent died before this call), exit at once.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)


def ignore_interrupts() -> None:
    """In a worker: ignore Ctrl-C, which the terminal sends to the whole process group.

    The run's main process decides what stops, and stops its workers itself. A
    worker started inside :func:`started_without_interrupts` has SIGINT blocked
    until this call, so that a Ctrl-C during its start-up is dropped here too.
    """
    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@contextlib.contextmanager
def started_without_interrupts() -> Iterator[None]:
    """Start child processes (and threads) inside this block with SIGINT blocked.

    Children inherit the signal mask, so a Ctrl-C that reaches the whole process
    group while a worker still imports its modules stays pending in the worker
    (which then ignores it, see :func:`ignore_interrupts`) instead of printing a
    traceback. This process receives a SIGINT that came meanwhile when the block
    ends.
    """
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _parent_table() -> dict[int, int] | None:
    """``{pid: parent pid}`` of every process (Linux ``/proc``), else ``None``."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return None
    table: dict[int, int] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2 :].split()
        with contextlib.suppress(IndexError, ValueError):
            table[int(entry.name)] = int(fields[1])
    return table


def descendants(pid: int | None = None) -> set[int]:
    """The pids of every live descendant of ``pid`` (default: this process)."""
    root = os.getpid() if pid is None else pid
    table = _parent_table()
    if table is None:
        return {child.pid for child in multiprocessing.active_children() if child.pid}
    children: dict[int, list[int]] = {}
    for child, parent in table.items():
        children.setdefault(parent, []).append(child)
    found: set[int] = set()
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _is_resource_tracker(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"multiprocessing.resource_tracker" in command


class ChildProcesses:
    """The descendant processes started since this object was made."""

    def __init__(self) -> None:
        self._before = descendants()

    def started(self) -> set[int]:
        """Descendants alive now that were not there at the start."""
        return descendants() - self._before

    def stop(self) -> list[int]:
        """Kill (SIGKILL) the descendants started since the start, and reap them.

        Returns
        -------
        list of int
            The pids that were killed.
        """
        doomed = sorted(p for p in self.started() if not _is_resource_tracker(p))
        for pid in doomed:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + REAP_SECONDS
        waiting = set(doomed)
        while waiting and time.monotonic() < deadline:
            # multiprocessing reaps its own children (reaping them here would leave
            # it waiting for them forever); the others are reaped directly.
            managed = {child.pid for child in multiprocessing.active_children()}
            for pid in waiting - managed:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
            waiting = {pid for pid in waiting if process_alive(pid)}
            if waiting:
                time.sleep(0.01)
        return doomed


__all__ = [
    "ChildProcesses",
    "descendants",
    "die_with_parent",
    "ignore_interrupts",
    "started_without_interrupts",
]
