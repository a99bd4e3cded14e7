"""Plugin side of GRPCStdio: what the plugin prints after the handshake goes to the host.

A Go plugin swaps ``os.Stdout``/``os.Stderr`` for pipes after printing its handshake line; we
swap ``sys.stdout``/``sys.stderr`` for writers into a :class:`StdioBuffer`, which the
GRPCStdio stream drains. The real fds stay untouched: fd 1 carried the handshake line, and fd 2
carries hclog lines and crash tracebacks that the host's stderr reader must see.

A line printed just before the process dies must still reach the host (a crash's last words
belong in its error message): under ``serve()`` a write returns once the stream has *sent* it,
not when it is buffered (at most ``SEND_WAIT``; measured at 0.15-0.35 ms a line, the price of
a crash's last words; per-call output belongs in logging, which writes to fd 2 directly). The
stream's thread there does nothing else.
Under ``aio.serve()`` the stream is sent from the event loop, which also runs code that may
hold a lock the writer holds (a logging handler printing to ``sys.stderr``), so writes do not
wait there: a line printed right before ``os._exit()`` may be lost. Whatever was never handed
to a stream by the time stdio is restored goes to the real stderr instead.
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
# block on print() for long.
MAX_BUFFERED = 1 << 20
# How long a write waits for the stream to send it (a host that stopped reading costs this).
SEND_WAIT = 0.25


class StdioBuffer:
    """Thread-safe hand-off of (channel, bytes) chunks from any writer to the stream(s).

    Chunks are numbered as they are pushed; a consumer takes them all with :meth:`pop_all`
    and says :meth:`sent` once it has sent what it took, which is what writers wait for.
    Everything is guarded by ``_cond``.
    """

    def __init__(self) -> None:
        # _chunks, _size, _wakers: under _cond (any writing thread, the consumer, the code
        # adding and removing wakers); wakers are called outside it.
        self._chunks: collections.deque[tuple[int, bytes]] = collections.deque()
        self._size = 0
        self._cond = threading.Condition()
        self._wakers: list[Callable[[], None]] = []
        self._pushed = 0  # chunks pushed so far
        self._taken = 0  # of which handed to a consumer (or dropped)
        self._sent = 0  # of which a consumer has sent
        self._consumers: dict[object, threading.Thread] = {}
        self._no_waiting = False

    def push(self, channel: int, data: bytes) -> int:
        """Buffer a chunk; returns its number (for :meth:`wait_sent`)."""
        if not data:
            return 0
        with self._cond:
            was_empty = not self._chunks
            self._chunks.append((channel, data))
            self._size += len(data)
            self._pushed += 1
            seq = self._pushed
            while self._size > MAX_BUFFERED and len(self._chunks) > 1:
                _, old = self._chunks.popleft()
                self._size -= len(old)
            if not was_empty:
                return seq  # the consumer was woken when the first chunk arrived
            self._cond.notify_all()
            wakers = list(self._wakers)
        for wake in wakers:
            wake()
        return seq

    def pop_all(self) -> list[tuple[int, bytes]]:
        with self._cond:
            chunks = list(self._chunks)
            self._chunks.clear()
            self._size = 0
            self._taken = self._pushed
            return chunks

    def sent(self) -> None:
        """The consumer sent everything it took (its stream asked for more)."""
        with self._cond:
            if self._sent != self._taken:
                self._sent = self._taken
                self._cond.notify_all()

    def consumer_started(self) -> object:
        """A stream drains this buffer from the calling thread; returns its token."""
        token = object()
        with self._cond:
            self._consumers[token] = threading.current_thread()
        return token

    def consumer_stopped(self, token: object) -> None:
        """The stream of ``token`` ended (idempotent): writers stop waiting for it."""
        with self._cond:
            if self._consumers.pop(token, None) is not None:
                self._cond.notify_all()

    def wait_sent(self, seq: int, timeout: float) -> None:
        """Until chunk ``seq`` is sent, the stream ends, or ``timeout``; at once if no stream
        drains the buffer or the caller is the thread that does (it would wait for itself)."""
        me = threading.current_thread()
        with self._cond:
            if not seq or self._no_waiting or me in self._consumers.values():
                return
            self._cond.wait_for(
                lambda: self._sent >= seq or not self._consumers or self._no_waiting, timeout
            )

    def stop_waiting(self) -> None:
        """The plugin is stopping (or its host is gone): writes no longer wait to be sent."""
        with self._cond:
            self._no_waiting = True
            self._cond.notify_all()

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
        self._buffer.wait_sent(self._buffer.push(self._channel, chunk), SEND_WAIT)
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
        # What no stream took (the host never connected, or left): the host's stderr reader
        # still logs it, and a crash's error message quotes it.
        leftover = b"".join(data for _, data in buffer.pop_all())
        if leftover:
            try:
                real_stderr.write(leftover.decode("utf-8", "backslashreplace"))
                real_stderr.flush()
            except (OSError, ValueError):
                pass

    return restore
