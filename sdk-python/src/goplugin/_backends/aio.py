"""IO seam of the asyncio flavour; ``_backends/sync.py`` offers the same names for threads.

The lifecycle code in ``_async/`` is written once against these names and ``unasync`` derives
the sync twin from it, so the two flavours differ here and nowhere else.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import grpc
    import grpc.aio

    from .._transport.aio_channel import AsyncGuardedChannel
    from ..netrpc._muxbroker import AsyncMuxBroker, MuxBroker

    Channel = grpc.aio.Channel
    #: What plugins register on (the pure engine's servers take the same registrations).
    Server = grpc.aio.Server
    from .._services.stdio import StdioBuffer
    from .._transport.endpoints import Endpoint

__all__ = [
    "AsyncGuardedChannel",
    "CallFuture",
    "Cancelled",
    "Channel",
    "Event",
    "Lock",
    "Queue",
    "Task",
    "ThreadsafeEvent",
    "call_future_of",
    "closed_channel_errors",
    "loop_caller",
    "mux_broker_view",
    "new_server",
    "open_channel",
    "run_blocking",
    "run_blocking_owned",
    "running_loop",
    "sleep",
    "start_task",
    "stdio_chunks",
    "stop_server",
    "stop_task",
    "wait_call",
    "wait_event",
    "wait_future",
]

T = TypeVar("T")

#: Which flavour this backend is (the one thing generated code may need to branch on).
IS_ASYNC = True

Lock = asyncio.Lock
#: What a task gets when it is cancelled.
Cancelled = asyncio.CancelledError
Queue = asyncio.Queue


def __getattr__(name: str) -> Any:
    """grpc.aio's classes on first use: a plugin on the pure engine never loads grpc."""
    if name == "Channel":
        import grpc.aio

        return grpc.aio.Channel
    if name == "AsyncGuardedChannel":
        from .._transport.aio_channel import AsyncGuardedChannel

        return AsyncGuardedChannel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


Task = asyncio.Task[None]
#: What ``call_future()`` returns in this flavour.
CallFuture = asyncio.Future


async def wait_future(fut: concurrent.futures.Future[T], timeout: float | None) -> T:
    """Wait for a future of another thread without cancelling it on timeout.

    Each future gets one asyncio mirror per loop, reused by every wait: wrapping it anew
    for each wait would leave a callback on the future per timed-out wait (a failing call
    waits briefly on the plugin's exit future, so a busy host would pile them up).
    """
    if fut.done():
        return fut.result()
    if timeout is not None and timeout <= 0:
        raise TimeoutError
    loop = asyncio.get_running_loop()
    # Threads with loops of their own may wait on one future at once: setdefault makes them
    # share one dict atomically, and each touches only its own loop's entry, from that loop.
    mirrors: dict[asyncio.AbstractEventLoop, asyncio.Future[T]] = fut.__dict__.setdefault(
        "_goplugin_mirrors", {}
    )
    mirror = mirrors.get(loop)
    if mirror is None:
        mirror = mirrors[loop] = asyncio.wrap_future(fut, loop=loop)
    try:
        return await asyncio.wait_for(asyncio.shield(mirror), timeout)
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


def call_future_of(fut: concurrent.futures.Future[T]) -> asyncio.Future[T]:
    """What ``call_future()`` hands out here: an asyncio future of this loop, awaitable
    without blocking it (cancelling it cancels the call)."""
    return asyncio.wrap_future(fut, loop=asyncio.get_running_loop())


def mux_broker_view(broker: MuxBroker) -> AsyncMuxBroker:
    """The net/rpc broker user code gets: its dial and accept awaited, off the loop."""
    from ..netrpc._muxbroker import AsyncMuxBroker

    return AsyncMuxBroker(broker)


async def sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


async def run_blocking(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking call (a broker dial, a round trip) without blocking the event loop."""
    return await asyncio.to_thread(fn, *args)


async def run_blocking_owned(fn: Callable[..., T], release: Callable[[T], None], *args: Any) -> T:
    """``run_blocking`` for a call that makes something to close (a connection): if the caller
    is cancelled meanwhile, the thread still finishes, and what it made is released."""
    future = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:

        def orphaned(done: asyncio.Future[T]) -> None:
            if not done.cancelled() and done.exception() is None:
                release(done.result())

        future.add_done_callback(orphaned)
        raise


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
    import grpc.aio

    if endpoint.credentials is not None:
        return grpc.aio.secure_channel(
            endpoint.target, endpoint.credentials, options=[*options, *endpoint.options]
        )
    return grpc.aio.insecure_channel(endpoint.target, options=options)


# -- plugin side -----------------------------------------------------------------------------


def new_server(
    options: list[tuple[str, Any]],
    max_concurrent_calls: int,
    reserved: int = 0,
    *,
    engine: str = "grpcio",
) -> Any:
    """A server of the chosen engine (goplugin._engines) that runs at most
    ``max_concurrent_calls + reserved`` calls (open streams included) and answers
    RESOURCE_EXHAUSTED past that; ``reserved`` is room for go-plugin's own long-lived streams
    (see INTERNAL_STREAMS). grpc.aio keeps this count right only from grpcio 1.80 on: before,
    every refusal lowered it, and after a few the limit no longer held.
    """
    capacity = max_concurrent_calls + reserved
    if engine == "pure":
        from .._engines import new_pure_server

        return new_pure_server(is_async=True, max_concurrent_calls=capacity)
    import grpc.aio

    return grpc.aio.server(options=options, maximum_concurrent_rpcs=capacity)


async def stop_server(server: Any, grace: float | None) -> None:
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

    # Not a consumer writers wait for (see _services/stdio.py): this runs on the event loop, which
    # runs everything else too, including code that may hold a lock a waiting writer holds.
    buffer.add_waker(wake)
    try:
        while True:
            ready.clear()
            for chunk in buffer.pop_all():
                yield chunk
            await ready.wait()
    finally:
        buffer.remove_waker(wake)


# -- supervisor ------------------------------------------------------------------------------


def closed_channel_errors() -> tuple[type[Exception], ...]:
    """What a call on a closed channel raises: grpc.aio's UsageError ("Channel is closed").
    A function, so that a plugin that never makes calls never imports grpc.aio for it."""
    import grpc.aio

    return (grpc.aio.UsageError,)


#: An event of this flavour's tasks (set and awaited on the event loop only).
Event = asyncio.Event


async def wait_event(event: asyncio.Event, timeout: float | None) -> bool:
    """Wait until ``event`` is set, at most ``timeout`` seconds; True if it was set."""
    if event.is_set():
        return True
    if timeout is not None and timeout <= 0:
        return False
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except asyncio.TimeoutError:
        return False
    return True


async def stop_task(task: asyncio.Task[None], abort: Callable[[], Awaitable[None]]) -> None:
    """Stop a background task and wait for its end. Cancelling it stops whatever it awaits
    (``abort`` is for threads, which cannot be cancelled); it cleans up as it unwinds."""
    if task is asyncio.current_task():
        return
    task.cancel()
    await asyncio.wait([task])
