"""IO seam of the sync flavour: the thread-based twin of ``_async/_backend.py``.

Nothing here adds an event loop: sync calls go straight to grpcio's sync stack.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import grpc

from .._channel import GuardedChannel

if TYPE_CHECKING:
    import asyncio

    from .._stdio import StdioBuffer
    from .._transport import Endpoint
    from ..errors import ProtocolError

__all__ = [
    "Channel",
    "ConnectionErrorTranslator",
    "ErrorTranslator",
    "Event",
    "GuardedChannel",
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

ErrorTranslator = Callable[[grpc.RpcError], BaseException | None]
ConnectionErrorTranslator = Callable[["ProtocolError"], BaseException | None]

IS_ASYNC = False

Lock = threading.Lock
Queue = queue.Queue
Event = threading.Event
Channel = grpc.Channel
Task = threading.Thread
insecure_channel = grpc.insecure_channel
secure_channel = grpc.secure_channel
sleep = time.sleep


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


def run_blocking(fn: Callable[..., T], *args: Any) -> T:
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
    if endpoint.credentials is not None:
        return grpc.secure_channel(
            endpoint.target, endpoint.credentials, options=[*options, *endpoint.options]
        )
    return grpc.insecure_channel(endpoint.target, options=options)


# -- plugin side -----------------------------------------------------------------------------

# Streaming RPCs (GRPCStdio, GRPCBroker) each hold a worker for their whole life.
_MAX_WORKERS = 32


def new_server(options: list[tuple[str, Any]]) -> grpc.Server:
    return grpc.server(
        concurrent.futures.ThreadPoolExecutor(
            max_workers=_MAX_WORKERS, thread_name_prefix="goplugin-rpc"
        ),
        options=options,
    )


def stop_server(server: grpc.Server, grace: float | None) -> None:
    server.stop(grace).wait()


ThreadsafeEvent = threading.Event


def stdio_chunks(buffer: StdioBuffer, context: grpc.ServicerContext) -> Iterator[tuple[int, bytes]]:
    """Everything the plugin writes, until the host hangs up."""
    context.add_callback(buffer.wake)
    while context.is_active():
        yield from buffer.pop_all()
        buffer.wait(0.5)
