"""The asyncio flavour's off-loop calls: a cancelled caller never leaks what the call made."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from goplugin._backends.aio import run_blocking, run_blocking_owned


async def test_results_come_back_from_another_thread() -> None:
    loop_thread = threading.current_thread()
    ran_on = await run_blocking(threading.current_thread)
    assert ran_on is not loop_thread
    assert await run_blocking_owned(lambda x: x * 2, lambda _: None, 21) == 42


async def test_a_cancelled_caller_releases_what_the_call_made() -> None:
    released: list[object] = []
    made = object()
    done = threading.Event()

    def connect() -> object:
        time.sleep(0.2)
        return made

    def release(thing: object) -> None:
        released.append(thing)
        done.set()

    task = asyncio.ensure_future(run_blocking_owned(connect, release))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(done.wait, 5)
    assert released == [made]


async def test_nothing_to_release_after_a_failure() -> None:
    def fail() -> object:
        time.sleep(0.1)
        raise OSError("refused")

    task = asyncio.ensure_future(run_blocking_owned(fail, lambda _: pytest.fail("released")))
    await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.2)  # the failure is consumed quietly
