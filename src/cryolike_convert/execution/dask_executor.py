"""Running the per-stack conversion on a ``dask.distributed`` cluster (optional extra).

Dask is imported only when this executor is used; without it the error names the
extra to install. One task (future) runs one output stack; workers write their own
files and the driver receives only the small per-stack record.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cryolike_convert.errors import (
    INSTALL_HINTS,
    ConversionError,
    MissingDependencyError,
    spelled,
)
from cryolike_convert.execution.in_order import Pending, map_in_order
from cryolike_convert.execution.interrupt import (
    STOP,
    deferred_interrupts,
    raise_if_stopping,
)

Task = TypeVar("Task")
Result = TypeVar("Result")

#: Re-runs of a task that raised an unexpected error (an I/O hiccup, say). A worker
#: that dies is handled by the scheduler, which re-runs its tasks elsewhere up to
#: ``distributed.scheduler.allowed-failures`` times (3 by default).
RETRIES = 3
#: Tasks in flight per worker thread: enough to keep workers busy, few enough to
#: keep the driver's memory bounded whatever the number of stacks.
IN_FLIGHT_PER_THREAD = 2
#: Seconds between checks for a signal while waiting for a task.
POLL_SECONDS = 0.05
INSTALL_HINT = INSTALL_HINTS["dask"]
_DASK = spelled("executor='dask'", "--executor dask")
_LOCAL = spelled("executor='local'", "--executor local")


def import_distributed() -> Any:
    """Import ``dask.distributed``, or explain how to install it.

    Returns
    -------
    module
        The ``distributed`` package.

    Raises
    ------
    MissingDependencyError
        When dask's distributed scheduler is not installed.
    """
    try:
        import distributed
    except ImportError as err:
        raise MissingDependencyError(
            f"{_DASK} needs dask.distributed, which is not installed: "
            f"{INSTALL_HINT} (or use {_LOCAL})"
        ) from err
    return distributed


@dataclass(frozen=True, slots=True)
class _Outcome(Generic[Result]):
    """A task's result, or the ConversionError it raised (not worth retrying)."""

    result: Result | None
    error: ConversionError | None


def _prepare_worker(parent_pid: int) -> None:
    """On a local cluster's worker: die with the run, leave Ctrl-C to the run.

    Tasks cancelled because the run was stopped are expected there: the worker's
    warning about each is not shown.
    """
    from cryolike_convert.execution.children import die_with_parent, ignore_interrupts

    if os.getppid() == parent_pid:
        die_with_parent()
    ignore_interrupts()
    logging.getLogger("distributed.worker.state_machine").setLevel(logging.ERROR)


def _result(future: Any) -> Any:
    """Wait for a future; a signal stops the wait at once, between polls.

    Raising inside ``distributed``'s own synchronous wait leaves its event loop
    with a broken callback, so the wait polls :data:`STOP` instead.
    """
    with deferred_interrupts():
        while not future.done():
            raise_if_stopping()
            STOP.wait(POLL_SECONDS)
        raise_if_stopping()
        return future.result()


@dataclass(frozen=True)
class _Polled(Generic[Result]):
    """A Dask future whose wait polls for a signal (see :func:`_result`)."""

    future: Any

    def result(self) -> Result:
        """Wait for the task; return its result or raise its error."""
        value: Result = _result(self.future)
        return value


def _attempt(function: Callable[[Task], Result], task: Task) -> _Outcome[Result]:
    """Run one task on a worker with single-threaded torch."""
    import torch

    torch.set_num_threads(1)
    try:
        return _Outcome(function(task), None)
    except ConversionError as err:
        return _Outcome(None, err)


def _unwrap(outcome: _Outcome[Result]) -> Result:
    if outcome.error is not None:
        raise outcome.error
    return outcome.result  # type: ignore[return-value]


@contextmanager
def _connect(
    distributed: Any, workers: int, scheduler_address: str | None
) -> Iterator[Any]:
    """A client of ``scheduler_address``, or of a local cluster closed with it."""
    if scheduler_address is not None:
        with distributed.Client(scheduler_address, set_as_default=False) as client:
            yield client
        return
    with (
        distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            scheduler_port=0,
            dashboard_address=":0",
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        # Worker processes are children of this process: they die with it.
        client.run(_prepare_worker, os.getpid())
        yield client


def _in_flight_limit(client: Any, workers: int) -> int:
    threads = int(sum(client.nthreads().values()))
    return IN_FLIGHT_PER_THREAD * max(workers, threads, 1)


def map_on_dask(
    function: Callable[[Task], Result],
    tasks: Iterable[Task],
    workers: int,
    scheduler_address: str | None = None,
) -> Iterator[Result]:
    """Apply ``function`` to every task on a Dask cluster; yield results in task order.

    At most two tasks per worker thread are in flight (re-counted as workers come
    and go), so memory stays bounded. A task that raises an unexpected error is
    retried :data:`RETRIES` times; the tasks of a worker that dies are re-run by the
    scheduler. A :class:`ConversionError` is raised without retries; on a local
    cluster the tasks in flight are cancelled and the cluster closed, on a remote
    one they are left to finish (a running Dask task cannot be stopped). A signal
    (:mod:`cryolike_convert.execution.interrupt`) stops the waits at once.

    Parameters
    ----------
    function
        A picklable, module-level function; every worker must be able to import it.
    tasks
        Picklable inputs, consumed lazily.
    workers
        Worker processes of the local cluster (``scheduler_address=None``).
    scheduler_address
        Address of a running scheduler (``tcp://host:8786``), or ``None`` for a
        local cluster on loopback that lives as long as this generator.

    Yields
    ------
    Result
        One result per task, in task order.

    Raises
    ------
    MissingDependencyError
        When dask's distributed scheduler is not installed.
    """
    distributed = import_distributed()
    with ExitStack() as scope:
        with deferred_interrupts():  # a signal during start-up is acted on after it
            client = scope.enter_context(
                _connect(distributed, workers, scheduler_address)
            )
        raise_if_stopping()

        def start(task: Task) -> Pending[_Outcome[Result]]:
            with deferred_interrupts():
                future = client.submit(
                    _attempt, function, task, retries=RETRIES, pure=False
                )
            return _Polled(future)

        def settle(pending: Sequence[Pending[_Outcome[Result]]]) -> None:
            futures = [item.future for item in pending if isinstance(item, _Polled)]
            if scheduler_address is None or STOP.is_set():
                # Closing the local cluster stops its workers; an interrupted run
                # does not wait for the stacks in flight (they are redone on resume).
                with deferred_interrupts():
                    client.cancel(futures, force=True)
                return
            # Tasks already running cannot be stopped; let the (bounded) rest finish
            # so that no stack file appears after the caller has cleaned up.
            with deferred_interrupts():
                client.gather(futures, errors="skip")

        def limit() -> int:
            with deferred_interrupts():
                return _in_flight_limit(client, workers)

        outcomes = map_in_order(start, tasks, limit, settle)
        try:
            for outcome in outcomes:
                yield _unwrap(outcome)
        finally:
            outcomes.close()
