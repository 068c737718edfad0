"""The bounded in-order map that every executor uses (threads here, Dask futures there).

Tasks are started ahead of the consumer, at most ``limit`` at a time, and their
results are handed over in task order. Memory therefore stays at ``limit`` results
whatever the number of tasks, and the order of the output never depends on which
task happened to finish first.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import Protocol, TypeVar

Task = TypeVar("Task")
Result = TypeVar("Result", covariant=True)


class Pending(Protocol[Result]):
    """A started task: ``concurrent.futures.Future`` and Dask futures both fit."""

    def result(self) -> Result:
        """Wait for the task; return its result or raise its error."""
        ...


def map_in_order(
    start: Callable[[Task], Pending[Result]],
    tasks: Iterable[Task],
    limit: int | Callable[[], int],
    settle: Callable[[Sequence[Pending[Result]]], None] | None = None,
) -> Generator[Result, None, None]:
    """Start every task with ``start`` and yield the results in task order.

    Parameters
    ----------
    start
        Starts one task and returns its handle (``executor.submit``, ``client.submit``).
    tasks
        Consumed lazily, one task ahead of the results at most ``limit``.
    limit
        Largest number of tasks started and not yet handed over, or a function
        returning it (re-read before each start: a Dask cluster grows and shrinks).
    settle
        Called with the handles still outstanding when the iteration stops early
        (an error, or the consumer closing the generator), to cancel or wait for
        them, so that no task outlives the map.

    Yields
    ------
    Result
        One result per task, in task order. A task's error is raised when its turn
        comes.
    """
    bound = limit if callable(limit) else (lambda: limit)
    pending: deque[Pending[Result]] = deque()
    try:
        for task in tasks:
            while pending and len(pending) >= max(1, bound()):
                yield pending.popleft().result()
            pending.append(start(task))
        while pending:
            yield pending.popleft().result()
    finally:
        if pending and settle is not None:
            settle(list(pending))


__all__ = ["Pending", "map_in_order"]
