"""The block pipeline: every stack of a run as one ordered stream of blocks.

Blocks are computed (read → pool → screen → centre → transform) on a pool of threads,
at most :data:`IN_FLIGHT_PER_THREAD` per thread ahead of the writer, and handed to the
writer in order (:func:`~cryolike_convert.execution.in_order.map_in_order`). The
writer (the thread iterating :func:`convert_stacks`) streams each block into its
stack's files; a finished stack is completed (fsync, rename, npz, plots) by one
background thread while the writer goes on with the next stack. So reading,
computing, checksumming and writing overlap, one stack keeps every core busy, and
memory is a few blocks plus one stack's plot preview, whatever the number of
particles. The libraries run single-threaded (parallelism comes from the blocks).
"""

from __future__ import annotations

import concurrent.futures
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import torch

from cryolike_convert.execution.batch import (
    BatchTask,
    BlockResult,
    StackRecord,
    StackWriter,
    compute_block,
    stack_blocks,
)
from cryolike_convert.execution.in_order import Pending, map_in_order
from cryolike_convert.execution.interrupt import raise_if_stopping

#: Blocks computed ahead of the writer, per thread.
IN_FLIGHT_PER_THREAD = 2


@dataclass(frozen=True, slots=True)
class BlockDone:
    """A block of ``n_rows`` rows of stack ``stack`` was written (not yet durable)."""

    stack: int
    n_rows: int


Event = BlockDone | StackRecord


@contextmanager
def single_threaded_torch() -> Iterator[None]:
    """Torch's own thread pool at one thread while blocks run on ours (restored after)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _cancel_and_wait(pending: Sequence[Pending[BlockResult]]) -> None:
    futures = [item for item in pending if isinstance(item, Future)]
    for future in futures:
        future.cancel()
    concurrent.futures.wait(futures)


def convert_stacks(tasks: Iterable[BatchTask], threads: int) -> Iterator[Event]:
    """Convert the stacks of ``tasks`` through the block pipeline on ``threads`` threads.

    Yields
    ------
    BlockDone or StackRecord
        A :class:`BlockDone` after each block is written, and each stack's record
        once its files are complete and durable, in stack order. The caller records
        a stack when it receives its record; a stack whose record was not yet
        yielded when the iteration stopped may have files on disk (complete, or
        under temporary names), which the caller removes.

    Raises
    ------
    ConversionError
        The first error of a block or a write, in order; the stack being written is
        abandoned and no thread of the pipeline outlives the iteration.
    """
    blocks = (block for task in tasks for block in stack_blocks(task))
    with (
        ThreadPoolExecutor(max(1, threads), "cryolike-block") as pool,
        ThreadPoolExecutor(1, "cryolike-finish") as finisher,
    ):
        results = map_in_order(
            lambda block: pool.submit(compute_block, block),
            blocks,
            IN_FLIGHT_PER_THREAD * max(1, threads),
            settle=_cancel_and_wait,
        )
        writer: StackWriter | None = None
        finishing: deque[Future[StackRecord]] = deque()
        try:
            for result in results:
                raise_if_stopping()  # a signal stops the pipeline between blocks
                block = result.block
                if writer is None:
                    writer = StackWriter(block.task)
                writer.append(result)
                yield BlockDone(block.task.plan.number, block.stop - block.start)
                if block.stop >= len(block.task.rows):
                    finishing.append(finisher.submit(writer.finish))
                    writer = None
                    if len(finishing) > 1:  # the previous stack's fsync overlapped
                        yield finishing.popleft().result()
            while finishing:
                yield finishing.popleft().result()
        except BaseException:
            if writer is not None:
                writer.abandon()
            for future in finishing:
                with suppress(Exception):
                    future.result()
            raise
        finally:
            results.close()


def convert_batch(task: BatchTask) -> StackRecord:
    """Convert one stack through the block pipeline (one thread); return its record.

    This is what a Dask task runs.

    Raises
    ------
    ConversionError
        For bad images or a failed write.
    """
    records = [
        event for event in convert_stacks([task], 1) if isinstance(event, StackRecord)
    ]
    return records[-1]


__all__ = [
    "IN_FLIGHT_PER_THREAD",
    "BlockDone",
    "Event",
    "convert_batch",
    "convert_stacks",
    "single_threaded_torch",
]
