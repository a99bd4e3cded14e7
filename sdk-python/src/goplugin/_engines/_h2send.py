"""The sending half of the pure engine's HTTP/2 core: response headers, messages and trailers
framed for the peer, within its flow-control windows and frame size.

A call's whole answer (headers, message, trailers) is a few appends to one output list that
the driver writes with one syscall. DATA the peer has no window for waits on its stream
(``pending``); so does all DATA while the driver holds output back (``hold_data``: the socket
is not draining), so that the per-connection write buffer stays bounded and handlers that
write see the backlog in ``pending_bytes`` and wait.

Not thread-safe: one driver owns a connection (the asyncio engine runs it on its loop).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from ._frames import (
    CANCEL,
    DATA,
    END_HEADERS,
    END_STREAM,
    FRAME,
    GOAWAY,
    HEADERS,
    NO_ERROR,
    RST_STREAM,
    U32,
    frame,
    header_frames,
)
from ._hpack import RESPONSE_HEADERS

__all__ = ["H2Sender", "H2Stream"]


class H2Stream:
    """One call's HTTP/2 stream. ``call`` belongs to the driver."""

    __slots__ = (
        "autoack",
        "buf",
        "call",
        "ended_local",
        "ended_remote",
        "headers",
        "headers_sent",
        "held",
        "id",
        "pending",
        "pending_bytes",
        "recv_window",
        "trailers",
        "window",
    )

    def __init__(
        self, stream_id: int, headers: list[tuple[str, str]], window: int, recv_window: int
    ) -> None:
        self.id = stream_id
        self.headers = headers
        self.call: Any = None
        # Sending: what the peer lets us send, and DATA waiting for it.
        self.window = window
        self.pending: deque[memoryview] = deque()
        self.pending_bytes = 0
        self.trailers: bytes | None = None  # to send once ``pending`` drained
        self.headers_sent = False
        # Receiving: what the peer may still send, and bytes received and not yet consumed
        # (a partial message in ``buf`` and whole ones the call holds). ``autoack``: messages
        # count as consumed once delivered (a unary request does; a request stream's messages
        # do when the handler takes them).
        self.recv_window = recv_window
        self.buf = bytearray()  # a partial gRPC message
        self.held = 0
        self.autoack = True
        self.ended_local = False
        self.ended_remote = False


class H2Sender:
    """Output of one server connection: frames in ``_out`` until the driver takes them."""

    def __init__(self) -> None:
        self.on_drained: Callable[[H2Stream], None] = _ignore
        self.streams: dict[int, H2Stream] = {}
        self._out: list[bytes | memoryview] = []
        self._window = 65535  # what we may send on the connection
        self._peer_initial = 65535
        self._peer_frame = 16384
        self._blocked: dict[int, H2Stream] = {}  # streams with DATA waiting
        self._last_id = 0
        self.closing = False  # GOAWAY sent or received: no new streams
        #: Set by the driver while the transport does not drain: DATA waits in ``pending``.
        self.hold_data = False

    def take_output(self) -> bytes:
        out = self._out
        if not out:
            return b""
        self._out = []
        return b"".join(out)  # one bytes object is returned as it is

    @property
    def has_output(self) -> bool:
        return bool(self._out)

    def send_headers(self, st: H2Stream, extra: bytes = b"") -> None:
        st.headers_sent = True
        block = RESPONSE_HEADERS + extra
        if len(block) <= self._peer_frame:
            self._out.append(frame(HEADERS, END_HEADERS, st.id, block))
        else:
            self._out.extend(header_frames(st.id, 0, block, self._peer_frame))

    def send_message(self, st: H2Stream, payload: bytes) -> None:
        """One gRPC message (uncompressed), flow control permitting; else queued."""
        n = len(payload)
        prefix = b"\x00" + U32.pack(n)
        total = n + 5
        if (
            not st.pending
            and total <= st.window
            and total <= self._window
            and total <= self._peer_frame
            and not self.hold_data
        ):
            st.window -= total
            self._window -= total
            self._out.append(FRAME.pack(total >> 8, total & 0xFF, DATA, 0, st.id))
            self._out.append(prefix)
            self._out.append(payload)
            return
        st.pending.append(memoryview(prefix))
        st.pending.append(memoryview(payload))
        st.pending_bytes += total
        self._flush_stream(st)

    def send_trailers(self, st: H2Stream, block: bytes) -> None:
        """End the call: trailers (or, before any header, a Trailers-Only response)."""
        if st.ended_local:
            return
        if not st.headers_sent:
            block = RESPONSE_HEADERS + block
            st.headers_sent = True
        st.ended_local = True
        if st.pending:
            st.trailers = block
            return
        self._finish(st, block)

    def reset(self, st: H2Stream, code: int = CANCEL) -> None:
        if st.id in self.streams:
            self._out.append(frame(RST_STREAM, 0, st.id, U32.pack(code)))
            self._forget(st)

    def go_away(self, code: int = NO_ERROR, debug: bytes = b"") -> None:
        self.closing = True
        self._out.append(frame(GOAWAY, 0, 0, U32.pack(self._last_id) + U32.pack(code) + debug))

    def release_data(self) -> None:
        """The transport drains again: send what ``hold_data`` kept back."""
        self.hold_data = False
        for st in list(self._blocked.values()):
            self._flush_stream(st)

    def _finish(self, st: H2Stream, block: bytes) -> None:
        if len(block) <= self._peer_frame:
            self._out.append(frame(HEADERS, END_HEADERS | END_STREAM, st.id, block))
        else:
            self._out.extend(header_frames(st.id, END_STREAM, block, self._peer_frame))
        if not st.ended_remote:
            # The client is still sending (we answered early): tell it to stop, as grpc-go does.
            self._out.append(frame(RST_STREAM, 0, st.id, U32.pack(NO_ERROR)))
        self._forget(st)

    def _forget(self, st: H2Stream) -> None:
        """The stream is closed for us (subclasses release what it held)."""
        self.streams.pop(st.id, None)
        self._blocked.pop(st.id, None)
        st.ended_local = st.ended_remote = True

    def _flush_stream(self, st: H2Stream) -> None:
        pending = st.pending
        while pending:
            room = min(st.window, self._window, self._peer_frame)
            if room <= 0 or self.hold_data:
                self._blocked[st.id] = st
                return
            chunk = pending.popleft()
            if len(chunk) > room:
                pending.appendleft(chunk[room:])
                chunk = chunk[:room]
            size = len(chunk)
            # Coalesce the 5-byte prefix with what follows into one frame where it fits.
            parts = [chunk]
            while pending and size < room:
                nxt = pending.popleft()
                if size + len(nxt) > room:
                    pending.appendleft(nxt[room - size :])
                    nxt = nxt[: room - size]
                parts.append(nxt)
                size += len(nxt)
            st.window -= size
            self._window -= size
            st.pending_bytes -= size
            self._out.append(FRAME.pack(size >> 8, size & 0xFF, DATA, 0, st.id))
            self._out.extend(parts)
        self._blocked.pop(st.id, None)
        if st.trailers is not None:
            block, st.trailers = st.trailers, None
            self._finish(st, block)
        elif st.call is not None:
            self.on_drained(st)


def _ignore(st: H2Stream) -> None:
    pass
