"""Where the stacks run: threads of this process, or one Dask task per stack."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from cryolike_convert.execution.batch import BatchTask
from cryolike_convert.execution.stream import (
    Event,
    convert_batch,
    convert_stacks,
    single_threaded_torch,
)
from cryolike_convert.options import ExecutorName


def execute(
    tasks: Iterable[BatchTask],
    workers: int,
    executor: ExecutorName = "local",
    scheduler_address: str | None = None,
) -> Iterator[Event]:
    """Convert every task's stack; yield block and stack events in stack order.

    ``executor='local'`` runs the block pipeline
    (:func:`~cryolike_convert.execution.stream.convert_stacks`) on ``workers``
    threads of this process, so no script is imported again and one stack uses every
    core. ``executor='dask'`` runs one task per stack on a Dask cluster (see
    :func:`cryolike_convert.execution.dask_executor.map_on_dask`), each through the
    same pipeline; only the stacks' records come back (no block events).

    Raises
    ------
    MissingDependencyError
        For ``executor='dask'`` without dask installed.
    """
    if executor == "dask":
        from cryolike_convert.execution.dask_executor import map_on_dask

        yield from map_on_dask(convert_batch, tasks, workers, scheduler_address)
        return
    with single_threaded_torch():
        yield from convert_stacks(tasks, workers)


__all__ = ["execute"]
