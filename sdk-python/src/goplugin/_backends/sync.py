"""IO seam of the sync flavour: the thread-based twin of ``_backends/aio.py``.

Nothing here adds an event loop: sync calls go straight to grpcio's sync stack.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    import asyncio

    import grpc

    from .._transport.channel import GuardedChannel
    from ..netrpc._muxbroker import MuxBroker

    Channel = grpc.Channel
    #: What plugins register on (the pure engine's servers take the same registrations).
    Server = grpc.Server

    from .._services.stdio import StdioBuffer
    from .._transport.endpoints import Endpoint

__all__ = [
    "CallFuture",
    "Cancelled",
    "Channel",
    "Event",
    "GuardedChannel",
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

IS_ASYNC = False

Lock = threading.Lock


class Cancelled(BaseException):
    """Never raised: threads are not cancelled (asyncio's CancelledError in the twin)."""


Queue = queue.Queue


def __getattr__(name: str) -> Any:
    """grpc's channel classes on first use: a plugin on the pure engine never loads grpc."""
    if name == "Channel":
        import grpc

        return grpc.Channel
    if name == "GuardedChannel":
        from .._transport.channel import GuardedChannel

        return GuardedChannel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


Task = threading.Thread
#: What ``call_future()`` returns in this flavour.
CallFuture = concurrent.futures.Future


def wait_future(fut: concurrent.futures.Future[T], timeout: float | None) -> T:
    try:
        return fut.result(timeout)
    except concurrent.futures.TimeoutError:  # a distinct class before Python 3.11
        raise TimeoutError from None


def wait_call(fut: concurrent.futures.Future[T], timeout: float | None) -> T:
    try:
        return fut.result(timeout)
    except concurrent.futures.TimeoutError:
        fut.cancel()  # abandoned: its reply will be dropped
        raise TimeoutError from None


def call_future_of(fut: concurrent.futures.Future[T]) -> concurrent.futures.Future[T]:
    """What ``call_future()`` hands out here: the call's own thread future."""
    return fut


def mux_broker_view(broker: MuxBroker) -> MuxBroker:
    """The net/rpc broker user code gets: the blocking one itself."""
    return broker


sleep = time.sleep


def run_blocking(fn: Callable[..., T], *args: Any) -> T:
    return fn(*args)


def run_blocking_owned(fn: Callable[..., T], release: Callable[[T], None], *args: Any) -> T:
    return fn(*args)


def running_loop() -> asyncio.AbstractEventLoop | None:
    return None


def _call_now(fn: Callable[..., Any], *args: Any) -> None:
    fn(*args)


def loop_caller() -> Callable[..., Any]:
    """Threads need no hand-off here: run ``fn(*args)`` right away."""
    return _call_now


def start_task(fn: Callable[..., None], *args: Any) -> threading.Thread:
    thread = threading.Thread(target=fn, args=args, daemon=True, name=f"goplugin-{fn.__name__}")
    thread.start()
    return thread


def open_channel(endpoint: Endpoint, options: list[tuple[str, Any]]) -> Channel:
    """A channel to a peer as _transport.dial found it (plaintext, grpcio TLS or a relay)."""
    import grpc

    if endpoint.credentials is not None:
        return grpc.secure_channel(
            endpoint.target, endpoint.credentials, options=[*options, *endpoint.options]
        )
    return grpc.insecure_channel(endpoint.target, options=options)


# -- plugin side -----------------------------------------------------------------------------


def new_server(
    options: list[tuple[str, Any]],
    max_concurrent_calls: int,
    reserved: int = 0,
    *,
    engine: str = "grpcio",
) -> Any:
    """A server of the chosen engine (goplugin._engines) that runs at most
    ``max_concurrent_calls + reserved`` calls, each on a worker of its own.

    grpcio counts every call it admits (open streams included) and answers RESOURCE_EXHAUSTED
    past ``maximum_concurrent_rpcs`` on its polling thread, without a worker. With as many
    workers as admitted calls, an admitted call never waits in the pool's queue: a call either
    runs at once or is refused at once. The pool starts threads only as calls need them, as
    daemon threads: a handler that never returns cannot keep the plugin alive once serve()
    has returned (see _engines/_workers.py). ``reserved`` is room for go-plugin's own long-lived
    streams (see INTERNAL_STREAMS). The pure engine keeps the same count and the same rule.
    """
    capacity = max_concurrent_calls + reserved
    if engine == "pure":
        from .._engines import new_pure_server

        return new_pure_server(is_async=False, max_concurrent_calls=capacity)
    import grpc

    from .._engines._workers import DaemonWorkers

    pool = DaemonWorkers(max_workers=capacity, thread_name_prefix="goplugin-rpc")
    # grpc only ever calls submit(); its stubs ask for a ThreadPoolExecutor by name.
    executor = cast("concurrent.futures.ThreadPoolExecutor", pool)
    return grpc.server(executor, options=options, maximum_concurrent_rpcs=capacity)


def stop_server(server: Any, grace: float | None) -> None:
    server.stop(grace).wait()


ThreadsafeEvent = threading.Event


def stdio_chunks(buffer: StdioBuffer, context: grpc.ServicerContext) -> Iterator[tuple[int, bytes]]:
    """Everything the plugin writes, until the host hangs up."""
    token = buffer.consumer_started()
    # grpcio asks a response iterator for more once its message is sent; the pure engine as
    # soon as the message is queued for its event loop, and says when the loop wrote it.
    wait_written = getattr(type(context), "wait_written", None)

    def ended() -> None:
        buffer.consumer_stopped(token)
        buffer.wake()

    context.add_callback(ended)
    try:
        while context.is_active():
            yield from buffer.pop_all()
            if wait_written is None or wait_written(context, 0.5):
                buffer.sent()
            buffer.wait(0.5)
    finally:
        buffer.consumer_stopped(token)


# -- supervisor ------------------------------------------------------------------------------


def closed_channel_errors() -> tuple[type[Exception], ...]:
    """What a call on a closed channel raises: grpcio's ValueError ("...closed channel!")."""
    return (ValueError,)


Event = threading.Event


def wait_event(event: threading.Event, timeout: float | None) -> bool:
    return event.wait(timeout)


def stop_task(task: threading.Thread, abort: Callable[[], None]) -> None:
    """Stop a background thread and wait for its end: ``abort`` interrupts what it is blocked
    in (threads cannot be cancelled); it has already been told to stop."""
    abort()
    if task is not threading.current_thread():
        task.join()
