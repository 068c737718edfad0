"""Ctrl-C (SIGINT) and SIGTERM during a run: stop, keep the finished stacks, say so.

While a run converts, :class:`SignalGuard` turns the first SIGINT or SIGTERM into
:class:`~cryolike_convert.errors.ConversionInterrupted` in the main thread (SIGTERM
is what SLURM sends on ``scancel`` or at its time limit) and sets :data:`STOP`,
which conversions running in threads check between blocks. Further signals are
recorded but do not interrupt the clean-up. A signal the caller ignores (``SIG_IGN``,
as for background jobs) stays ignored.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType, TracebackType
from typing import Any

from cryolike_convert.errors import ConversionInterrupted
from cryolike_convert.execution.children import ChildProcesses
from cryolike_convert.output.manifest import Manifest, remove_unrecorded

#: The signals a run handles.
SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: Set while a run is being stopped by a signal.
STOP = threading.Event()
_DEFERRED = {"depth": 0}


def stop_requested() -> bool:
    """Whether a signal asked the running conversion to stop."""
    return STOP.is_set()


def raise_if_stopping() -> None:
    """Raise :class:`ConversionInterrupted` if a signal asked the run to stop.

    Called by conversions between blocks, so that worker threads stop early.

    Raises
    ------
    ConversionInterrupted
        If :data:`STOP` is set.
    """
    if STOP.is_set():
        raise ConversionInterrupted(SignalGuard.last_signal or signal.SIGINT)


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Inside this block a signal only sets :data:`STOP`; the block polls for it.

    For waits inside libraries that break when an exception is raised in the
    middle of them (``distributed``'s synchronous calls): such a wait polls
    :func:`raise_if_stopping` (or waits on :data:`STOP`) instead.
    """
    _DEFERRED["depth"] += 1
    try:
        yield
    finally:
        _DEFERRED["depth"] -= 1


class SignalGuard:
    """Handle SIGINT and SIGTERM for the life of a run (a context manager).

    Handlers are installed only in the main thread (the only one Python delivers
    signals to) and restored on exit.

    Attributes
    ----------
    received
        The first signal received, or ``None``.
    """

    last_signal: int | None = None

    def __init__(self) -> None:
        self.received: int | None = None
        self._calm = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> SignalGuard:
        STOP.clear()
        SignalGuard.last_signal = None
        if threading.current_thread() is not threading.main_thread():
            return self
        for number in SIGNALS:
            current = signal.getsignal(number)
            if current == signal.SIG_IGN:
                continue
            self._previous[number] = signal.signal(number, self._handle)
        return self

    def _handle(self, number: int, frame: FrameType | None) -> None:
        first = self.received is None
        if first:
            self.received = number
            SignalGuard.last_signal = number
            STOP.set()
        if first and not self._calm and not _DEFERRED["depth"]:
            raise ConversionInterrupted(number)

    def calm(self) -> None:
        """From now on only record signals: the run is cleaning up."""
        self._calm = True

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for number, previous in self._previous.items():
            signal.signal(number, signal.SIG_DFL if previous is None else previous)
        self._previous.clear()
        STOP.clear()


def interruption(error: BaseException, guard: SignalGuard) -> int | None:
    """The signal that stopped a run that ended with ``error``, or ``None``.

    A run that failed for another reason after a signal arrived (a worker killed
    by the same SIGTERM, say) counts as interrupted too.
    """
    if isinstance(error, ConversionInterrupted):
        return error.signal_number
    if guard.received is not None:
        return guard.received
    if isinstance(error, KeyboardInterrupt):
        return int(signal.SIGINT)
    return None


def stop_workers(
    results: Iterator[Any], error: BaseException, children: ChildProcesses
) -> None:
    """Stop a run's executor at once, and kill any process it started.

    ``error`` is thrown into the executor's generator, so that it stops where it
    waits (cancelling what has not started rather than waiting for it); then every
    descendant process started during the run is killed.
    """
    throw = getattr(results, "throw", None)
    if throw is not None:
        with contextlib.suppress(BaseException):
            throw(error)
    else:
        close = getattr(results, "close", None)
        if close is not None:
            with contextlib.suppress(BaseException):
                close()
    children.stop()


def keep_finished(manifest: Manifest) -> None:
    """After an interruption: keep the recorded stacks, drop the rest, say so.

    Files of stacks not recorded in the manifest (being written when the signal
    came) are removed; the manifest is written with status ``interrupted``.
    """
    remove_unrecorded(manifest.layout, manifest.to_dict())
    manifest.status = "interrupted"
    manifest.write()


__all__ = [
    "SIGNALS",
    "STOP",
    "SignalGuard",
    "deferred_interrupts",
    "interruption",
    "keep_finished",
    "raise_if_stopping",
    "stop_requested",
    "stop_workers",
]
