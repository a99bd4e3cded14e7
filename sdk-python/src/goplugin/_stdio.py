"""Plugin side of GRPCStdio: what the plugin prints after the handshake goes to the host.

A Go plugin swaps ``os.Stdout``/``os.Stderr`` for pipes after printing its handshake line; we
swap ``sys.stdout``/``sys.stderr`` for writers into a :class:`StdioBuffer`, which the
GRPCStdio stream drains. The real fds stay untouched: fd 1 carried the handshake line, and fd 2
carries hclog lines and crash tracebacks that the host's stderr reader must see.
"""

from __future__ import annotations

import collections
import io
import sys
import threading
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = ["STDERR", "STDOUT", "StdioBuffer", "redirect_stdio"]

# StdioData.Channel values (grpc_stdio.proto).
STDOUT = 1
STDERR = 2

# If no host drains the stream, keep at most this much and drop the oldest: a plugin must never
# block on print().
MAX_BUFFERED = 1 << 20


class StdioBuffer:
    """Thread-safe hand-off of (channel, bytes) chunks from any writer to one consumer."""

    def __init__(self) -> None:
        self._chunks: collections.deque[tuple[int, bytes]] = collections.deque()
        self._size = 0
        self._cond = threading.Condition()
        self._wakers: list[Callable[[], None]] = []

    def push(self, channel: int, data: bytes) -> None:
        if not data:
            return
        with self._cond:
            was_empty = not self._chunks
            self._chunks.append((channel, data))
            self._size += len(data)
            while self._size > MAX_BUFFERED and len(self._chunks) > 1:
                _, old = self._chunks.popleft()
                self._size -= len(old)
            if not was_empty:
                return  # the consumer was woken when the first chunk arrived
            self._cond.notify_all()
            wakers = list(self._wakers)
        for wake in wakers:
            wake()

    def pop_all(self) -> list[tuple[int, bytes]]:
        with self._cond:
            chunks = list(self._chunks)
            self._chunks.clear()
            self._size = 0
            return chunks

    def wait(self, timeout: float) -> None:
        """Block until something is buffered or ``timeout`` passes (sync consumers)."""
        with self._cond:
            if not self._chunks:
                self._cond.wait(timeout)

    def wake(self) -> None:
        """Wake a sync consumer early (its RPC ended)."""
        with self._cond:
            self._cond.notify_all()

    def add_waker(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` (from the writing thread) after every push (asyncio consumers)."""
        with self._cond:
            self._wakers.append(wake)

    def remove_waker(self, wake: Callable[[], None]) -> None:
        with self._cond:
            if wake in self._wakers:
                self._wakers.remove(wake)


class _Writer(io.BufferedIOBase):
    def __init__(self, buffer: StdioBuffer, channel: int) -> None:
        self._buffer = buffer
        self._channel = channel

    @property
    def name(self) -> str:
        return "<stdout>" if self._channel == STDOUT else "<stderr>"

    def writable(self) -> bool:
        return True

    def write(self, data: Buffer, /) -> int:
        chunk = bytes(data)
        self._buffer.push(self._channel, chunk)
        return len(chunk)


def redirect_stdio(buffer: StdioBuffer, real_stderr: IO[str]) -> Callable[[], None]:
    """Point ``sys.stdout``/``sys.stderr`` at ``buffer``; returns a function that undoes it.

    Uncaught exceptions keep going to the real stderr, so a crash still reaches the host's
    log and its "plugin exited" error instead of disappearing into the stdio stream.
    """
    saved = (sys.stdout, sys.stderr, sys.excepthook, threading.excepthook)

    def text(channel: int) -> IO[str]:
        return io.TextIOWrapper(
            _Writer(buffer, channel),
            encoding="utf-8",
            errors="backslashreplace",
            line_buffering=True,
            write_through=False,
        )

    def excepthook(
        exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        traceback.print_exception(exc_type, exc, tb, file=real_stderr)
        real_stderr.flush()

    def thread_excepthook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        print(f"Exception in thread {getattr(args.thread, 'name', '?')}:", file=real_stderr)
        excepthook(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)

    sys.stdout = text(STDOUT)
    sys.stderr = text(STDERR)
    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook

    def restore() -> None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        sys.stdout, sys.stderr, sys.excepthook, threading.excepthook = saved

    return restore
