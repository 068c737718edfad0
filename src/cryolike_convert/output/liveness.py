"""Whether a process of this host still lives: for stale locks and orphaned temporaries."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def this_host() -> str:
    """The name of this machine, as recorded in lock files."""
    return socket.gethostname()


def process_start_ticks(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (Linux), else ``None``.

    With the pid it identifies one process even after the pid is reused.
    """
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after it.
    fields = text[text.rfind(")") + 2 :].split()
    try:
        return int(fields[19])  # field 22 of the full line
    except (IndexError, ValueError):
        return None


def _is_zombie(pid: int) -> bool:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = text[text.rfind(")") + 2 : text.rfind(")") + 3]
    return state in ("Z", "X")


def process_alive(pid: int, start_ticks: int | None = None) -> bool:
    """Whether process ``pid`` lives on this host (a zombie counts as dead).

    With ``start_ticks`` (see :func:`process_start_ticks`) a process that merely
    reuses the pid counts as dead too.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    except OSError:
        return False
    if _is_zombie(pid):
        return False
    if start_ticks is not None:
        now = process_start_ticks(pid)
        if now is not None and now != start_ticks:
            return False
    return True


__all__ = ["process_alive", "process_start_ticks", "this_host"]
