"""IO seam of the asyncio flavour; ``_sync/_backend.py`` offers the same names for threads.

The lifecycle code in ``_async/`` is written once against these names and ``unasync`` derives
the sync twin from it, so the two flavours differ here and nowhere else.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import grpc.aio

from .._channel import AsyncGuardedChannel

__all__ = [
    "AsyncGuardedChannel",
    "Channel",
    "Event",
    "Lock",
    "Task",
    "insecure_channel",
    "secure_channel",
    "sleep",
    "start_task",
    "wait_future",
]

T = TypeVar("T")

Lock = asyncio.Lock
Event = asyncio.Event
Channel = grpc.aio.Channel
Task = asyncio.Task[None]
insecure_channel = grpc.aio.insecure_channel
secure_channel = grpc.aio.secure_channel
sleep = asyncio.sleep


async def wait_future(fut: concurrent.futures.Future[T], timeout: float | None) -> T:
    """Wait for a future of the watcher thread without cancelling it on timeout."""
    if fut.done():
        return fut.result()
    try:
        return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(fut)), timeout)
    except asyncio.TimeoutError:
        raise TimeoutError from None


def start_task(fn: Callable[..., Coroutine[Any, Any, None]], *args: Any) -> asyncio.Task[None]:
    """Run ``fn`` in the background (a task here, a daemon thread in the sync flavour)."""
    return asyncio.get_running_loop().create_task(fn(*args))
