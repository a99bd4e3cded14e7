"""Call faults under ``aio.serve`` run each on a daemon thread of its own.

Not asyncio's default executor: it has a handful of workers (64 blocked calls would queue
behind the first few, and so would the call that counts them) and the interpreter waits for
its threads at exit (a hung call would keep the plugin alive). A daemon thread per call is
what a blocking handler costs under the sync ``serve()`` too.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def on_daemon_thread(fn: Callable[[], T]) -> T:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result = fn()
        except BaseException as exc:  # handed to the awaiting call
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, result, None)

    threading.Thread(target=run, name="fault-call", daemon=True).start()
    return await future
