"""Executors that map the per-stack conversion over worker processes."""

from __future__ import annotations

import multiprocessing
import os
import re
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from cryolike_convert.execution.children import (
    ChildProcesses,
    die_with_parent,
    ignore_interrupts,
    started_without_interrupts,
)
from cryolike_convert.options import ExecutorName

Task = TypeVar("Task")
Result = TypeVar("Result")


#: Thread counts for the libraries' own pools in worker processes. Read when the
#: OpenMP/BLAS runtimes load, which in a spawned worker happens before any
#: initializer runs, so they are set in the parent while the pool starts workers.
#: Two workers each spinning a 2-thread OpenMP pool on 2 cores ran 2.5x slower.
_SINGLE_THREAD_ENVIRONMENT = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


@contextmanager
def _single_threaded_children() -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in _SINGLE_THREAD_ENVIRONMENT}
    os.environ.update(_SINGLE_THREAD_ENVIRONMENT)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def main_module_is_spawn_safe() -> bool:
    """Whether worker processes can start without re-running the caller's script.

    Spawned workers import the ``__main__`` script again; an unguarded script would
    start the conversion once more in every worker. Interactive sessions,
    ``python -c``, cryolike's own command line and scripts with an
    ``if __name__ == "__main__":`` guard are safe.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    spec = getattr(main, "__spec__", None)
    if path is None or (spec is not None and spec.name.startswith("cryolike_convert")):
        return True
    if Path(path).name == "cryolike_convert":
        return True
    try:
        source = Path(path).read_text(errors="replace")
    except OSError:
        return False
    return re.search(r"if\s+__name__\s*==\s*['\"]__main__['\"]", source) is not None


def _init_worker(parent_pid: int) -> None:
    import torch

    die_with_parent(parent_pid)  # no worker outlives the run, even a kill -9'd one
    ignore_interrupts()  # Ctrl-C reaches the whole group; the parent stops workers
    torch.set_num_threads(1)


def map_in_order(
    function: Callable[[Task], Result],
    tasks: Iterable[Task],
    workers: int,
    executor: ExecutorName = "local",
    scheduler_address: str | None = None,
) -> Iterator[Result]:
    """Apply ``function`` to every task and yield the results in task order.

    With ``workers > 1`` a pool of single-threaded worker processes runs the tasks,
    at most ``2 * workers`` at a time, so memory stays bounded whatever the number
    of tasks. While the pool runs, ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``
    and ``MKL_NUM_THREADS`` are 1 in this process's environment (restored after),
    so that the workers start with single-threaded libraries. ``executor='dask'``
    runs them on a Dask cluster instead (see
    :func:`cryolike_convert.execution.dask_executor.map_on_dask`).

    Raises
    ------
    MissingDependencyError
        For ``executor='dask'`` without dask installed.
    """
    if executor == "dask":
        from cryolike_convert.execution.dask_executor import map_on_dask

        yield from map_on_dask(function, tasks, workers, scheduler_address)
        return
    if workers <= 1:
        for task in tasks:
            yield function(task)
        return
    context = multiprocessing.get_context("spawn")
    started = ChildProcesses()
    with (
        _single_threaded_children(),
        ProcessPoolExecutor(
            workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(os.getpid(),),
        ) as pool,
    ):
        pending: deque[Future[Result]] = deque()
        try:
            for task in tasks:
                with started_without_interrupts():  # submit may start a worker
                    pending.append(pool.submit(function, task))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        except BaseException:
            # Failed or interrupted: stop the workers now rather than wait for the
            # stacks they are writing (the caller removes unrecorded files).
            started.stop()
            raise
        finally:
            for future in pending:
                future.cancel()
