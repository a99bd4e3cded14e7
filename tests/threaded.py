"""Thread helpers for tests: one blocking call on a thread, or many threads colliding."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TypeVar, cast

T = TypeVar("T")


def run(target: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    """Run target in a thread; the list receives its result or exception."""
    box: list[object] = []

    def wrapper() -> None:
        try:
            box.append(target())
        except BaseException as exc:  # handed to the test
            box.append(exc)

    thread = threading.Thread(target=wrapper, daemon=True)
    thread.start()
    return thread, box


def joined(thread: threading.Thread, box: list[object], timeout: float) -> object:
    """The thread's result or exception; ``timeout`` is only reached when something broke."""
    thread.join(timeout)
    assert not thread.is_alive(), "thread did not finish"
    return box[0]


def collide(
    work: Callable[[int, int], T],
    *,
    threads: int = 16,
    rounds: int = 30,
    switch_interval: float = 1e-5,
    timeout: float = 60.0,
) -> list[list[T | BaseException]]:
    """Run ``work(round, thread)`` on ``threads`` threads that start each round together.

    A barrier releases every thread at once, and a tiny GIL switch interval makes them
    interleave inside the code under test (at the default 5 ms a thread usually finishes a
    short critical section before the next one runs, and a race shows once in hundreds of
    rounds). Returns, per round, what each thread's call returned or raised.
    """
    missing = RuntimeError("did not run")
    results: list[list[T | BaseException]] = [[missing] * threads for _ in range(rounds)]
    barrier = threading.Barrier(threads)

    def worker(index: int) -> None:
        for r in range(rounds):
            try:
                barrier.wait(timeout)
            except threading.BrokenBarrierError:
                return
            try:
                results[r][index] = work(r, index)
            except BaseException as exc:  # handed to the test
                results[r][index] = exc

    old = sys.getswitchinterval()
    sys.setswitchinterval(switch_interval)
    try:
        pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
        for t in pool:
            t.start()
        deadline = time.monotonic() + timeout
        for t in pool:
            t.join(max(0.0, deadline - time.monotonic()))
    finally:
        sys.setswitchinterval(old)
    barrier.abort()
    assert not any(t.is_alive() for t in pool), "threads did not finish"
    return results


def succeeded(results: list[list[T | BaseException]]) -> list[list[T]]:
    """:func:`collide`'s results, once checked that no call raised."""
    failed = [x for row in results for x in row if isinstance(x, BaseException)]
    if failed:
        total = sum(map(len, results))
        raise AssertionError(f"{len(failed)} of {total} calls failed; first: {failed[0]!r}") from (
            failed[0]
        )
    return cast("list[list[T]]", results)
