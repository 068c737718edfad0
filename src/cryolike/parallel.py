"""Executors that map the per-stack conversion over worker processes."""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

from .options import ExecutorName

Task = TypeVar("Task")
Result = TypeVar("Result")


def _init_worker() -> None:
    import torch

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
    of tasks. ``executor='dask'`` runs them on a Dask cluster instead (see
    :func:`cryolike.dask_executor.map_on_dask`).

    Raises
    ------
    MissingDependencyError
        For ``executor='dask'`` without dask installed.
    """
    if executor == "dask":
        from .dask_executor import map_on_dask

        yield from map_on_dask(function, tasks, workers, scheduler_address)
        return
    if workers <= 1:
        for task in tasks:
            yield function(task)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker
    ) as pool:
        pending: deque[Future[Result]] = deque()
        try:
            for task in tasks:
                pending.append(pool.submit(function, task))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
