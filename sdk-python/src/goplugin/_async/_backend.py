"""IO seam of the asyncio flavour; ``_sync/_backend.py`` offers the same names for threads.

The lifecycle code in ``_async/`` is written once against these names and ``unasync`` derives
the sync twin from it, so the two flavours differ here and nowhere else.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import grpc.aio

from .._channel import AsyncGuardedChannel

if TYPE_CHECKING:
    from .._stdio import StdioBuffer
    from .._transport import Endpoint
    from ..errors import ProtocolError

__all__ = [
    "AsyncGuardedChannel",
    "Channel",
    "ConnectionErrorTranslator",
    "ErrorTranslator",
    "Event",
    "Lock",
    "Queue",
    "Task",
    "ThreadsafeEvent",
    "insecure_channel",
    "loop_caller",
    "new_server",
    "open_channel",
    "run_blocking",
    "running_loop",
    "secure_channel",
    "sleep",
    "start_task",
    "stdio_chunks",
    "stop_server",
    "wait_call",
    "wait_future",
]

T = TypeVar("T")

#: What a guarded channel calls when an RPC fails (see _channel.py).
ErrorTranslator = Callable[[grpc.RpcError], Awaitable[BaseException | None]]
#: What a net/rpc client calls when its connection breaks under a call (see rpc_client.py).
ConnectionErrorTranslator = Callable[["ProtocolError"], Awaitable[BaseException | None]]

#: Which flavour this backend is (the one thing generated code may need to branch on).
IS_ASYNC = True

Lock = asyncio.Lock
Queue = asyncio.Queue
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


async def wait_call(fut: concurrent.futures.Future[T], timeout: float | None) -> T:
    """Wait for a net/rpc call; a timeout or a cancelled task abandons it (reply dropped)."""
    if fut.done():
        return fut.result()
    wrapped = asyncio.wrap_future(fut)  # cancelling it cancels ``fut``
    if timeout is None:
        return await wrapped
    try:
        return await asyncio.wait_for(wrapped, timeout)
    except asyncio.TimeoutError:
        raise TimeoutError from None


async def run_blocking(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking call (a broker dial, a round trip) without blocking the event loop."""
    return await asyncio.to_thread(fn, *args)


def running_loop() -> asyncio.AbstractEventLoop | None:
    """Where ``async def`` net/rpc methods run: this loop (the sync flavour has none)."""
    return asyncio.get_running_loop()


def loop_caller() -> Callable[..., Any]:
    """Something any thread may call to run ``fn(*args)`` on this event loop."""
    return asyncio.get_running_loop().call_soon_threadsafe


def start_task(fn: Callable[..., Coroutine[Any, Any, None]], *args: Any) -> asyncio.Task[None]:
    """Run ``fn`` in the background (a task here, a daemon thread in the sync flavour)."""
    return asyncio.get_running_loop().create_task(fn(*args))


def open_channel(endpoint: Endpoint, options: list[tuple[str, Any]]) -> Channel:
    """A channel to a peer as _transport.dial found it (plaintext, grpcio TLS or a relay)."""
    if endpoint.credentials is not None:
        return grpc.aio.secure_channel(
            endpoint.target, endpoint.credentials, options=[*options, *endpoint.options]
        )
    return grpc.aio.insecure_channel(endpoint.target, options=options)


# -- plugin side -----------------------------------------------------------------------------


def new_server(options: list[tuple[str, Any]]) -> grpc.aio.Server:
    return grpc.aio.server(options=options)


async def stop_server(server: grpc.aio.Server, grace: float | None) -> None:
    await server.stop(grace)


class ThreadsafeEvent:
    """An asyncio.Event that threads and signal handlers may set."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()

    def set(self) -> None:
        try:
            self._loop.call_soon_threadsafe(self._event.set)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    def is_set(self) -> bool:
        return self._event.is_set()

    async def wait(self) -> None:
        await self._event.wait()


async def stdio_chunks(buffer: StdioBuffer, context: Any) -> AsyncIterator[tuple[int, bytes]]:
    """Everything the plugin writes, until the host hangs up (the task is then cancelled)."""
    loop = asyncio.get_running_loop()
    ready = asyncio.Event()

    def wake() -> None:
        loop.call_soon_threadsafe(ready.set)

    buffer.add_waker(wake)
    try:
        while True:
            ready.clear()
            for chunk in buffer.pop_all():
                yield chunk
            await ready.wait()
    finally:
        buffer.remove_waker(wake)
