"""IO seam of the sync flavour: the thread-based twin of ``_async/_backend.py``.

Nothing here adds an event loop: sync calls go straight to grpcio's sync stack.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import grpc

from .._channel import GuardedChannel

__all__ = [
    "Channel",
    "Event",
    "GuardedChannel",
    "Lock",
    "Task",
    "insecure_channel",
    "secure_channel",
    "sleep",
    "start_task",
    "wait_future",
]

T = TypeVar("T")

Lock = threading.Lock
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


def start_task(fn: Callable[..., None], *args: Any) -> threading.Thread:
    thread = threading.Thread(target=fn, args=args, daemon=True, name=f"goplugin-{fn.__name__}")
    thread.start()
    return thread
