"""The bounded in-order map: task order out, at most ``limit`` started ahead."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from cryolike_convert.execution.in_order import Pending, map_in_order


def test_results_come_in_task_order_whatever_finishes_first() -> None:
    def slow_for_small(n: int) -> int:
        time.sleep(0.002 * (10 - n))  # task 0 finishes last
        return n * n

    with ThreadPoolExecutor(4) as pool:
        results = list(
            map_in_order(lambda n: pool.submit(slow_for_small, n), range(10), 4)
        )
    assert results == [n * n for n in range(10)]


def test_no_more_than_limit_tasks_are_started_ahead() -> None:
    started: list[int] = []
    consumed: list[int] = []
    ahead: list[int] = []

    def start(n: int) -> Future[int]:
        started.append(n)
        ahead.append(len(started) - len(consumed))
        future: Future[int] = Future()
        future.set_result(n)
        return future

    for result in map_in_order(start, range(20), 3):
        consumed.append(result)
    assert consumed == list(range(20))
    assert max(ahead) == 3


def test_limit_is_read_again_before_each_start() -> None:
    limits = iter([1, 1, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5])
    ahead: list[int] = []
    consumed: list[int] = []
    started: list[int] = []

    def start(n: int) -> Future[int]:
        started.append(n)
        ahead.append(len(started) - len(consumed))
        future: Future[int] = Future()
        future.set_result(n)
        return future

    for result in map_in_order(start, range(6), lambda: next(limits)):
        consumed.append(result)
    assert consumed == list(range(6))
    assert ahead[:2] == [1, 1]
    assert max(ahead) > 1


def test_an_error_is_raised_in_turn_and_the_rest_is_settled() -> None:
    settled: list[int] = []
    release = threading.Event()

    def work(n: int) -> int:
        if n == 2:
            raise ValueError("task 2 failed")
        release.wait(5)
        return n

    def settle(pending: Sequence[Pending[int]]) -> None:
        settled.append(len(pending))
        release.set()

    got: list[int] = []

    def consume(mapped: Iterator[int]) -> None:
        for value in mapped:
            got.append(value)
            release.clear()  # tasks started after this one wait until settled

    with ThreadPoolExecutor(2) as pool:
        release.set()  # tasks 0 and 1 finish
        mapped = map_in_order(lambda n: pool.submit(work, n), range(8), 3, settle)
        with pytest.raises(ValueError, match="task 2 failed"):
            consume(mapped)
    assert got == [0, 1]
    assert settled
    assert settled[0] >= 1


def test_closing_early_settles_the_outstanding_tasks() -> None:
    settled: list[list[int]] = []

    def start(n: int) -> Future[int]:
        future: Future[int] = Future()
        future.set_result(n)
        return future

    def settle(pending: Sequence[Pending[int]]) -> None:
        settled.append([item.result() for item in pending])

    mapped = map_in_order(start, range(10), 4, settle)
    assert next(mapped) == 0
    mapped.close()
    assert settled == [[1, 2, 3]]  # 0 to 3 were started; 0 was handed over
