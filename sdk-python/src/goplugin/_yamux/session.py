"""Thread-based yamux session over a connected socket: blocking streams around the sans-IO core.

One implementation serves the sync API and the asyncio API (which runs these blocking calls in
executor threads), so it stays small. Two threads per session:

* the **reader** turns socket bytes into core events and wakes waiters. It never writes to the
  socket: if both peers' readers could block on a full send buffer at once, neither would drain
  its socket again. hashicorp/yamux keeps its receive loop free of writes for the same reason.
* the **keeper** writes what the reader made the core produce (ping answers, data released by
  window updates, refusals) and sends a keepalive ping every 30 s, ending the session when one
  goes unanswered for 10 s: yamux's default ``KeepAliveInterval`` and
  ``ConnectionWriteTimeout``, which go-plugin uses on both sides.

Application threads write their own frames directly (no thread hand-off on the call path).
``_lock`` guards the core and all waiting; ``_out_lock`` serialises socket writes, so bytes hit
the wire in the order the core made them. Lock order is ``_out_lock`` then ``_lock``; the reader
only ever *tries* ``_out_lock`` (for a last go-away), so it cannot deadlock.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import deque
from typing import TYPE_CHECKING

from ..errors import ConnectionClosedError, ProtocolError
from .connection import Connection
from .frames import (
    DEFAULT_ACCEPT_BACKLOG,
    GO_AWAY_PROTOCOL_ERROR,
    DataReceived,
    FrameType,
    PingAcknowledged,
    StreamEnded,
    StreamEstablished,
    StreamOpened,
    StreamReset,
    WindowUpdated,
    encode_header,
)
from .stream import Stream, _closed

if TYPE_CHECKING:
    from types import TracebackType

    from .frames import Event

__all__ = ["Session", "Stream"]

_RECV_SIZE = 256 * 1024
KEEPALIVE_INTERVAL = 30.0
KEEPALIVE_TIMEOUT = 10.0


class Session:
    """A yamux session over a connected stream socket; ``client=True`` on the go-plugin host.

    Owns the socket: ``close()`` (or leaving the ``with`` block) shuts it down, wakes every
    blocked call with ``ConnectionClosedError`` and joins both threads. The threads also end on
    their own when the peer hangs up or breaks the protocol, but not while both ends stay
    silent: a session that is dropped without ``close()`` lives as long as its connection.
    """

    def __init__(
        self,
        sock: socket.socket,
        *,
        client: bool,
        keepalive_interval: float | None = KEEPALIVE_INTERVAL,
        keepalive_timeout: float = KEEPALIVE_TIMEOUT,
        accept_backlog: int = DEFAULT_ACCEPT_BACKLOG,
    ) -> None:
        sock.settimeout(None)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as Go's net does
        self._sock = sock
        self._core = Connection(client=client, accept_backlog=accept_backlog)
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)  # accept queue, open slots, shutdown
        self._out_lock = threading.Lock()
        self._wake = threading.Event()
        # _streams, _accept_queue, _pings, _next_ping (and the core): only under _lock, by the
        # reader, the keeper and any application thread opening, accepting, pinging or using
        # a stream.
        self._streams: dict[int, Stream] = {}
        self._accept_queue: deque[Stream] = deque()
        self._pings: dict[int, threading.Event] = {}
        self._next_ping = 0
        self._error: ConnectionClosedError | None = None
        self._keepalive = (keepalive_interval, keepalive_timeout)
        role = "client" if client else "server"
        self._reader = threading.Thread(
            target=self._read_loop, name=f"yamux-{role}-reader", daemon=True
        )
        self._keeper = threading.Thread(
            target=self._keep_loop, name=f"yamux-{role}-keeper", daemon=True
        )
        self._reader.start()
        self._keeper.start()

    @property
    def closed(self) -> bool:
        return self._error is not None

    # --- streams ---------------------------------------------------------------------------

    def open_stream(self) -> Stream:
        """Open a stream; blocks while 256 of ours await the peer's ACK, as yamux does."""
        with self._cond:
            while True:
                if self._error is not None:
                    raise _closed(str(self._error), self._error)
                if self._core.can_open_stream:
                    break
                self._cond.wait()
            stream = Stream(self, self._core.open_stream())
            self._streams[stream.id] = stream
        self._flush()
        return stream

    def accept_stream(self, timeout: float | None = None) -> Stream | None:
        """The next stream the peer opened, acknowledged; ``None`` if ``timeout`` passes."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._accept_queue or self._error is not None:
                if self._error is not None:
                    raise _closed(str(self._error), self._error)
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)
            stream = self._accept_queue.popleft()
            if self._core.stream_state(stream.id) is not None:
                self._core.accept_stream(stream.id)
        self._flush()
        return stream

    def _forget_if_done(self, stream: Stream) -> None:
        if self._core.stream_state(stream.id) is None:
            self._streams.pop(stream.id, None)

    # --- session-level ---------------------------------------------------------------------

    def ping(self, timeout: float = KEEPALIVE_TIMEOUT) -> float | None:
        """Round-trip time in seconds, or ``None`` when no answer came within ``timeout``."""
        with self._lock:
            opaque, answered = self._send_ping()
        self._flush()
        start = time.monotonic()
        ok = answered.wait(timeout)
        with self._lock:
            self._pings.pop(opaque, None)
        if self._error is not None:
            raise _closed(str(self._error), self._error)
        return time.monotonic() - start if ok else None

    def _send_ping(self) -> tuple[int, threading.Event]:
        if self._error is not None:
            raise _closed(str(self._error), self._error)
        opaque = self._next_ping
        self._next_ping = (opaque + 1) & 0xFFFF_FFFF
        answered = self._pings[opaque] = threading.Event()
        self._core.ping(opaque)
        return opaque, answered

    def go_away(self) -> None:
        """Refuse streams the peer opens from now on; existing streams carry on."""
        with self._lock:
            if self._error is not None:
                return
            self._core.go_away()
        self._flush()

    def close(self) -> None:
        """Shut the connection down and wait for both threads; idempotent."""
        self._shutdown(_closed("yamux session closed"))
        me = threading.current_thread()
        for thread in (self._reader, self._keeper):
            if thread is not me:
                thread.join()

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _shutdown(self, error: ConnectionClosedError) -> None:
        with self._lock:
            self._mark_dead(error)
        self._wake.set()
        try:
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the reader and any blocked sendall
        except OSError:
            pass

    def _mark_dead(self, error: ConnectionClosedError) -> None:
        """Record why the session ended and wake every waiter; call with ``_lock`` held."""
        if self._error is not None:
            return
        self._error = error
        self._core.close(error)
        for stream in self._streams.values():
            stream._cond.notify_all()
        self._cond.notify_all()
        for answered in self._pings.values():
            answered.set()

    # --- IO --------------------------------------------------------------------------------

    def _flush(self) -> bool:
        """Write everything the core has produced; False if the session ended first.

        Never raises: a failed write ends the session, and callers that must know whether
        their bytes left (``Stream.write``) look at the result.
        """
        with self._out_lock:
            while self._error is None:
                with self._lock:
                    data = self._core.data_to_send()
                if not data:
                    return True
                try:
                    self._sock.sendall(data)
                except OSError as exc:
                    self._shutdown(_closed(f"yamux: connection lost while writing: {exc}", exc))
            with self._lock:
                return not self._core.has_data_to_send

    def _read_loop(self) -> None:
        buf = bytearray(_RECV_SIZE)
        view = memoryview(buf)
        error: ConnectionClosedError | None = None
        try:
            while error is None:
                try:
                    n = self._sock.recv_into(buf)
                except OSError as exc:
                    error = _closed(f"yamux: connection lost: {exc}", exc)
                    break
                if not n:
                    error = _closed("yamux: connection closed by the peer")
                    break
                with self._lock:
                    if self._error is not None:
                        break
                    try:
                        self._dispatch(self._core.receive_data(view[:n]))
                    except ProtocolError as exc:
                        error = _closed(f"yamux session closed: {exc}", exc)
                        self._mark_dead(error)  # before anyone else sees the dead core
                        self._tell_peer(exc)
                        break
                    wake = self._core.has_data_to_send
                if wake:
                    self._wake.set()
        finally:
            self._shutdown(error or _closed("yamux session closed"))
            with self._out_lock:  # writers fail fast once the socket is shut down
                self._sock.close()

    def _tell_peer(self, exc: ProtocolError) -> None:
        """Best effort go-away after a protocol error, without ever blocking the reader."""
        if isinstance(exc, ConnectionClosedError) or not self._out_lock.acquire(blocking=False):
            return
        try:
            frame = encode_header(FrameType.GO_AWAY, 0, 0, GO_AWAY_PROTOCOL_ERROR)
            self._sock.send(frame, getattr(socket, "MSG_DONTWAIT", 0))
        except OSError:
            pass
        finally:
            self._out_lock.release()

    def _dispatch(self, events: list[Event]) -> None:
        streams = self._streams
        # Streams are forgotten only after the whole batch: the core already reflects its last
        # frame, so a FIN followed by a RST in one read must not drop the stream at the FIN.
        ended: list[Stream] = []
        for event in events:
            if isinstance(event, DataReceived):  # the hot one first
                stream = streams[event.stream_id]
                stream._chunks.append(event.data)
                stream._buffered += len(event.data)
                stream._cond.notify_all()
            elif isinstance(event, StreamOpened):
                stream = streams[event.stream_id] = Stream(self, event.stream_id)
                self._accept_queue.append(stream)
                self._cond.notify_all()
            elif isinstance(event, WindowUpdated):
                streams[event.stream_id]._cond.notify_all()
            elif isinstance(event, (StreamEnded, StreamReset)):
                stream = streams[event.stream_id]
                if isinstance(event, StreamReset):
                    stream._reset = True
                    self._cond.notify_all()  # may free a slot for open_stream
                else:
                    stream._eof = True
                stream._cond.notify_all()
                ended.append(stream)
            elif isinstance(event, StreamEstablished):
                self._cond.notify_all()
            elif isinstance(event, PingAcknowledged):
                answered = self._pings.pop(event.opaque, None)
                if answered is not None:
                    answered.set()
        for stream in ended:
            self._forget_if_done(stream)

    def _keep_loop(self) -> None:
        interval, timeout = self._keepalive
        next_ping = time.monotonic() + interval if interval else float("inf")
        pending: tuple[threading.Event, float] | None = None
        while self._error is None:
            due = min(next_ping, pending[1] if pending else next_ping)
            self._wake.wait(max(due - time.monotonic(), 0.0) if due != float("inf") else None)
            self._wake.clear()
            self._flush()
            now = time.monotonic()
            if pending is not None:
                if pending[0].is_set():
                    pending = None
                elif now >= pending[1]:
                    self._shutdown(_closed("yamux: keepalive timeout"))
                    return
            if interval and pending is None and now >= next_ping:
                try:
                    with self._lock:
                        pending = (self._send_ping()[1], now + timeout)
                except ConnectionClosedError:
                    return
                next_ping = now + interval
                self._flush()
