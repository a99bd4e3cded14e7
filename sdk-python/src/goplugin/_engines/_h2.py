"""The server side of gRPC over HTTP/2 as a pure state machine over bytes (no sockets, no loop).

Only what a gRPC server needs: the connection preface, SETTINGS, PING, GOAWAY, RST_STREAM,
WINDOW_UPDATE, HEADERS/CONTINUATION in and out, DATA carrying length-prefixed gRPC messages
both ways, and flow control in both directions (sending: _h2send).

Receiving is bounded: a stream's window comes back as its handler consumes messages
(:meth:`H2Server.consumed`), the connection's as they arrive until HOLD_CAP bytes are held
unread and then as they are consumed (_frames says why), so a peer can never make a slow
handler's plugin buffer without bound. A message bigger than the window gets the window it
needs once the handler waits for it (grpc-go does the same), so any message up to
``max_message`` arrives.

Peer errors follow RFC 9113: a connection error raises :class:`H2Error` (the driver sends
GOAWAY with its code and closes), a stream error resets that stream only. Deviations, all
where only a non-gRPC peer would notice: request headers are not validated as HTTP requests
(a gRPC server routes on ``:path`` and ignores the rest, as grpc-go does for most of it);
PRIORITY is parsed for its errors and otherwise ignored; frames on a stream we closed are
ignored for the most recent streams we closed early, and answered with RST_STREAM
STREAM_CLOSED (a stream error, not a connection error) on older ones.

Not thread-safe: one driver owns a connection (the asyncio engine runs it on its loop).
"""

from __future__ import annotations

from collections.abc import Callable

from ._frames import (
    ACK,
    COMPRESSION_ERROR,
    CONN_WINDOW,
    CONN_WINDOW_UPDATE,
    CONTINUATION,
    DATA,
    END_HEADERS,
    END_STREAM,
    FLOW_CONTROL_ERROR,
    FRAME,
    FRAME_SIZE_ERROR,
    GOAWAY,
    HEADERS,
    HOLD_CAP,
    MAX_FRAME,
    MAX_HEADER_LIST,
    MAX_STREAMS,
    MAX_WINDOW,
    PADDED,
    PING,
    PREFACE,
    PRIORITY,
    PRIORITY_FLAG,
    PROTOCOL_ERROR,
    PUSH_PROMISE,
    REFUSED_STREAM,
    RST_STREAM,
    SETTING,
    SETTINGS,
    SETTINGS_ACK,
    STREAM_CLOSED,
    STREAM_WINDOW,
    U32,
    WINDOW_UPDATE,
    frame,
    settings_frame,
)
from ._h2send import H2Sender, H2Stream
from ._hpack import HeaderDecoder, status_block

__all__ = ["PREFACE", "H2Error", "H2Server", "H2Stream"]

RESOURCE_EXHAUSTED, UNIMPLEMENTED = 8, 12
#: Streams closed early whose late frames are ignored (the peer may not have seen our reset).
_CLOSED_EARLY = 256
#: Queued-but-unconsumed bytes below which a waiting handler's big message gets its window:
#: a sync handler reports consumption in batches of this size (_calls).
CREDIT_BATCH = 256 << 10
_CONN_LOW = CONN_WINDOW - CONN_WINDOW // 4
_STREAM_LOW = STREAM_WINDOW - STREAM_WINDOW // 4
_SELF_DEPENDENT = 0x100  # (not a wire flag) a HEADERS frame whose priority names itself


class H2Error(Exception):
    """The peer broke HTTP/2: the connection ends with GOAWAY."""

    def __init__(self, message: str, code: int = PROTOCOL_ERROR) -> None:
        super().__init__(message)
        self.code = code


class H2Server(H2Sender):
    """One server connection. The driver sets the ``on_*`` callbacks, feeds :meth:`receive`
    with what it reads and writes what :meth:`take_output` returns."""

    def __init__(self, max_streams: int = MAX_STREAMS, max_message: int = MAX_WINDOW) -> None:
        super().__init__()
        self.on_request: Callable[[H2Stream], None] = _ignore
        self.on_message: Callable[[H2Stream, bytes], None] = _ignore_message
        self.on_end: Callable[[H2Stream], None] = _ignore
        self.on_reset: Callable[[H2Stream], None] = _ignore
        self.max_streams = max_streams
        self.max_message = max_message
        self._decoder: HeaderDecoder | None = None
        self._out = [settings_frame(max_streams), CONN_WINDOW_UPDATE]
        self._inbuf = b""
        self._preface = True
        self._continuing: tuple[int, int, bytearray] | None = None
        self._closed_early: dict[int, None] = {}
        self._recv_window = CONN_WINDOW  # what the peer may still send on the connection
        self._credit_due: list[H2Stream] = []
        self.peer_gone = False

    # -- input -----------------------------------------------------------------------------------

    def receive(self, data: bytes) -> None:
        """Everything the peer sent so far (any split); raises :class:`H2Error`."""
        if self._inbuf:
            data = self._inbuf + data
            self._inbuf = b""
        pos = 0
        if self._preface:
            if len(data) < 24:
                if not PREFACE.startswith(data):
                    raise H2Error("not an HTTP/2 client")
                self._inbuf = data
                return
            if data[:24] != PREFACE:
                raise H2Error("not an HTTP/2 client")
            self._preface = False
            pos = 24
        end = len(data)
        unpack = FRAME.unpack_from
        view: memoryview | None = None  # DATA payloads are views: messages are copied once
        while end - pos >= 9:
            hi, lo, kind, flags, sid = unpack(data, pos)
            length = (hi << 8) | lo
            if length > MAX_FRAME:
                raise H2Error("frame too large", FRAME_SIZE_ERROR)
            start = pos + 9
            if end - start < length:
                break
            pos = start + length
            sid &= 0x7FFFFFFF
            if self._continuing is not None and kind != CONTINUATION:
                raise H2Error("expected CONTINUATION")
            if kind == DATA:
                if view is None:
                    view = memoryview(data)
                self._data(sid, flags, view[start:pos])
                continue
            payload = data[start:pos]
            if kind == HEADERS:
                self._headers(sid, flags, payload)
            elif kind == CONTINUATION:
                self._continuation(sid, flags, payload)
            elif kind == WINDOW_UPDATE:
                self._window_update(sid, payload)
            elif kind == SETTINGS:
                self._settings(sid, flags, payload)
            elif kind == PING:
                if sid:
                    raise H2Error("PING on a stream")
                if len(payload) != 8:
                    raise H2Error("bad PING", FRAME_SIZE_ERROR)
                if not flags & ACK:
                    self._out.append(frame(PING, ACK, 0, payload))
            elif kind == RST_STREAM:
                self._rst_stream(sid, payload)
            elif kind == PRIORITY:
                self._priority(sid, payload)
            elif kind == GOAWAY:
                if sid:
                    raise H2Error("GOAWAY on a stream")
                if len(payload) < 8:
                    raise H2Error("bad GOAWAY", FRAME_SIZE_ERROR)
                self.closing = self.peer_gone = True
            elif kind == PUSH_PROMISE:
                raise H2Error("a client sent PUSH_PROMISE")
            # Unknown frame types are ignored, as the spec says.
        if pos < end:
            self._inbuf = data[pos:]
        if self._credit_due:
            self._give_stream_credit()
        if self._recv_window <= _CONN_LOW:
            self._grant_connection()

    # -- flow control of what we receive ---------------------------------------------------------

    @property
    def held(self) -> int:
        """Bytes received and not consumed, over all streams. Summed when asked: only a
        connection window running low asks, so DATA frames pay no connection-wide count."""
        return sum(st.held for st in self.streams.values())

    def consumed(self, st: H2Stream, n: int) -> None:
        """The handler took ``n`` bytes of messages (prefixes included): window goes back."""
        if st.ended_local and st.ended_remote:
            return  # closed: what it held was released then
        st.held -= n
        if not st.ended_remote:
            if STREAM_WINDOW - st.held - st.recv_window >= STREAM_WINDOW // 4:
                self._stream_credit(st)
            elif st.buf and st.held - len(st.buf) < CREDIT_BATCH:
                self._grant_message(st)
        if self._recv_window <= _CONN_LOW:
            self._grant_connection()

    # Windows are declared, not counted: a stream's peer may have STREAM_WINDOW minus what
    # the stream holds in flight, the connection's CONN_WINDOW minus what is held past
    # HOLD_CAP. An update goes out when the peer's window is a quarter below that, so none
    # is due while the peer still has three quarters (_CONN_LOW, _STREAM_LOW): the check
    # per DATA frame is one comparison.

    def _grant_connection(self) -> None:
        over = self.held - HOLD_CAP
        want = CONN_WINDOW - over if over > 0 else CONN_WINDOW
        if want - self._recv_window >= CONN_WINDOW // 4:
            self._out.append(frame(WINDOW_UPDATE, 0, 0, U32.pack(want - self._recv_window)))
            self._recv_window = want

    def _stream_credit(self, st: H2Stream) -> None:
        increment = STREAM_WINDOW - st.held - st.recv_window
        st.recv_window += increment
        self._out.append(frame(WINDOW_UPDATE, 0, st.id, U32.pack(increment)))

    def _give_stream_credit(self) -> None:
        due, self._credit_due = self._credit_due, []
        for st in due:
            if not st.ended_remote and STREAM_WINDOW - st.held - st.recv_window > 0:
                self._stream_credit(st)

    def _grant_message(self, st: H2Stream) -> None:
        """A partial message the handler waits for needs more window than the peer has:
        give it exactly what completes the message (else a message bigger than the window
        could never arrive)."""
        buf = st.buf
        if len(buf) < 5:
            return
        need = min(5 + U32.unpack_from(buf, 1)[0] - len(buf), MAX_WINDOW)
        if st.recv_window < need:
            grant = need - st.recv_window
            st.recv_window = need
            self._out.append(frame(WINDOW_UPDATE, 0, st.id, U32.pack(grant)))
        if self._recv_window < need:
            grant = need - self._recv_window
            self._recv_window = need
            self._out.append(frame(WINDOW_UPDATE, 0, 0, U32.pack(grant)))

    def _forget(self, st: H2Stream) -> None:
        super()._forget(st)
        st.held = 0
        st.buf.clear()

    # -- streams ---------------------------------------------------------------------------------

    def _closed(self, sid: int, what: str) -> None:
        """A frame that needs an open stream came for one that is not (RFC 9113 5.1)."""
        if sid == 0:
            raise H2Error(f"{what} on stream 0")
        if sid > self._last_id:
            raise H2Error(f"{what} on an idle stream")
        if sid not in self._closed_early:
            self._out.append(frame(RST_STREAM, 0, sid, U32.pack(STREAM_CLOSED)))

    def _stream_error(self, st: H2Stream, code: int) -> None:
        self._out.append(frame(RST_STREAM, 0, st.id, U32.pack(code)))
        self._forget(st)
        self._remember_closed(st.id)
        if st.call is not None:
            self.on_reset(st)

    def _remember_closed(self, sid: int) -> None:
        early = self._closed_early
        early[sid] = None
        if len(early) > _CLOSED_EARLY:
            del early[next(iter(early))]

    def _finish(self, st: H2Stream, block: bytes) -> None:
        if not st.ended_remote:
            self._remember_closed(st.id)
        super()._finish(st, block)

    def reset(self, st: H2Stream, code: int = 8) -> None:
        if st.id in self.streams:
            self._remember_closed(st.id)
        super().reset(st, code)

    def _rst_stream(self, sid: int, payload: bytes) -> None:
        if len(payload) != 4:
            raise H2Error("bad RST_STREAM", FRAME_SIZE_ERROR)
        st = self.streams.get(sid)
        if st is None:
            if sid == 0 or sid > self._last_id:
                raise H2Error("RST_STREAM on an idle stream")
            return
        self._forget(st)
        if st.call is not None:
            self.on_reset(st)

    def _priority(self, sid: int, payload: bytes) -> None:
        if sid == 0:
            raise H2Error("PRIORITY on stream 0")
        if len(payload) != 5:
            st = self.streams.get(sid)
            if st is not None:
                self._stream_error(st, FRAME_SIZE_ERROR)
            else:
                self._out.append(frame(RST_STREAM, 0, sid, U32.pack(FRAME_SIZE_ERROR)))
            return
        if U32.unpack_from(payload)[0] & 0x7FFFFFFF == sid:
            st = self.streams.get(sid)
            if st is not None:
                self._stream_error(st, PROTOCOL_ERROR)
            else:
                self._out.append(frame(RST_STREAM, 0, sid, U32.pack(PROTOCOL_ERROR)))

    def _data(self, sid: int, flags: int, payload: memoryview) -> None:
        n = len(payload)
        self._recv_window -= n
        if self._recv_window < 0:
            raise H2Error("the connection's flow-control window was exceeded", FLOW_CONTROL_ERROR)
        st = self.streams.get(sid)
        if st is None or st.ended_remote:
            if st is not None:
                self._stream_error(st, STREAM_CLOSED)
            else:
                self._closed(sid, "DATA")
            return
        st.recv_window -= n
        if st.recv_window < 0:
            self._stream_error(st, FLOW_CONTROL_ERROR)
            return
        if flags & PADDED:
            if not n or payload[0] >= n:
                raise H2Error("DATA padding longer than the frame")
            payload = payload[1 : n - payload[0]]  # padding is not held: its window comes back
        if payload:
            st.held += len(payload)
            self._messages(st, payload)
            if sid not in self.streams:
                return  # the handler ended the call already
        if flags & END_STREAM:
            self._end_remote(st)
            return
        if st.recv_window > _STREAM_LOW and not st.buf:
            return
        if STREAM_WINDOW - st.held - st.recv_window >= STREAM_WINDOW // 4:
            self._credit_due.append(st)
        elif st.buf and st.held - len(st.buf) < CREDIT_BATCH and len(st.buf) >= 5:
            self._grant_message(st)

    def _messages(self, st: H2Stream, payload: memoryview) -> None:
        """Split DATA into gRPC messages (5-byte prefix: compressed flag, big-endian length)."""
        buf = st.buf
        if buf:
            # A message in pieces (a big one spans many frames): collect, and look at its
            # length prefix only, until it is whole. Never re-copy what was collected.
            buf += payload
            while len(buf) >= 5:
                size = U32.unpack_from(buf, 1)[0]
                if buf[0] or size > self.max_message:
                    self._refuse(st, size, bool(buf[0]))
                    return
                if len(buf) - 5 < size:
                    return
                with memoryview(buf) as view:
                    message = bytes(view[5 : 5 + size])
                del buf[: 5 + size]
                self._deliver(st, message)
                if st.id not in self.streams:
                    return  # the handler ended the call already
            return
        pos, end = 0, len(payload)
        unpack = U32.unpack_from
        streams = self.streams
        call = st.call
        on_message = self.on_message
        release = st.autoack or call is None  # (_deliver, inlined: once per message)
        while end - pos >= 5:
            size = unpack(payload, pos + 1)[0]
            if payload[pos] or size > self.max_message:
                self._refuse(st, size, bool(payload[pos]))
                return
            start = pos + 5
            if end - start < size:
                break
            pos = start + size
            if release:
                st.held -= size + 5
            if call is not None:
                on_message(st, bytes(payload[start:pos]))
            if st.id not in streams:
                return  # the handler ended the call already
        if pos < end:
            buf += payload[pos:]

    def _deliver(self, st: H2Stream, message: bytes) -> None:
        if st.autoack or st.call is None:
            st.held -= len(message) + 5
        if st.call is not None:
            self.on_message(st, message)

    def _refuse(self, st: H2Stream, size: int, compressed: bool) -> None:
        """A compressed message (we offer no grpc-accept-encoding) or one over the limit:
        this call fails, the connection lives on."""
        if compressed:
            block = status_block(UNIMPLEMENTED, "compressed messages are not supported")
        else:
            block = status_block(
                RESOURCE_EXHAUSTED,
                f"grpc: received message larger than max ({size} vs. {self.max_message})",
            )
        self.send_trailers(st, block)
        if st.call is not None:
            self.on_reset(st)

    def _end_remote(self, st: H2Stream) -> None:
        st.ended_remote = True
        if st.ended_local:
            self._forget(st)
        if st.call is not None:
            self.on_end(st)

    def _headers(self, sid: int, flags: int, payload: bytes) -> None:
        if sid == 0:
            raise H2Error("HEADERS on stream 0")
        if flags & PADDED:
            if not payload or payload[0] >= len(payload):
                raise H2Error("HEADERS padding longer than the frame")
            payload = payload[1 : len(payload) - payload[0]]
        if flags & PRIORITY_FLAG:
            if len(payload) < 5:
                raise H2Error("HEADERS too short for its priority", FRAME_SIZE_ERROR)
            if U32.unpack_from(payload)[0] & 0x7FFFFFFF == sid:
                flags |= _SELF_DEPENDENT
            payload = payload[5:]
        if not flags & END_HEADERS:
            self._continuing = (sid, flags, bytearray(payload))
            return
        self._header_block(sid, flags, payload)

    def _continuation(self, sid: int, flags: int, payload: bytes) -> None:
        if self._continuing is None or self._continuing[0] != sid:
            raise H2Error("unexpected CONTINUATION")
        block = self._continuing[2]
        block += payload
        if len(block) > MAX_HEADER_LIST:
            raise H2Error("header block too large", PROTOCOL_ERROR)
        if flags & END_HEADERS:
            first_flags = self._continuing[1]
            self._continuing = None
            self._header_block(sid, first_flags, bytes(block))

    def _header_block(self, sid: int, flags: int, block: bytes) -> None:
        if self._decoder is None:
            self._decoder = HeaderDecoder()
        try:
            headers = self._decoder.decode(block)
        except Exception as exc:  # any HPACK failure poisons the shared decoding context
            raise H2Error(f"bad header block: {exc}", COMPRESSION_ERROR) from None
        st = self.streams.get(sid)
        if st is not None:  # trailers from the client: only END_STREAM matters
            if st.ended_remote:
                self._stream_error(st, STREAM_CLOSED)
            elif not flags & END_STREAM or flags & _SELF_DEPENDENT:
                self._stream_error(st, PROTOCOL_ERROR)  # trailers must end the stream
            else:
                self._end_remote(st)
            return
        if sid <= self._last_id:
            self._closed(sid, "HEADERS")
            return
        if not sid & 1:
            raise H2Error("a client stream with an even id")
        self._last_id = sid
        if flags & _SELF_DEPENDENT:
            self._out.append(frame(RST_STREAM, 0, sid, U32.pack(PROTOCOL_ERROR)))
            return
        if self.closing or len(self.streams) >= self.max_streams:
            self._remember_closed(sid)
            self._out.append(frame(RST_STREAM, 0, sid, U32.pack(REFUSED_STREAM)))
            return
        st = H2Stream(sid, headers, self._peer_initial, STREAM_WINDOW)
        self.streams[sid] = st
        self.on_request(st)
        if flags & END_STREAM and sid in self.streams:
            self._end_remote(st)

    def _window_update(self, sid: int, payload: bytes) -> None:
        if len(payload) != 4:
            raise H2Error("bad WINDOW_UPDATE", FRAME_SIZE_ERROR)
        increment = U32.unpack(payload)[0] & 0x7FFFFFFF
        if sid == 0:
            if not increment:
                raise H2Error("a connection WINDOW_UPDATE of 0")
            self._window += increment
            if self._window > MAX_WINDOW:
                raise H2Error("connection window overflow", FLOW_CONTROL_ERROR)
            for blocked in list(self._blocked.values()):
                self._flush_stream(blocked)
            return
        st = self.streams.get(sid)
        if st is None:
            if sid > self._last_id:
                raise H2Error("WINDOW_UPDATE on an idle stream")
            return  # closed: updates may cross our end of the stream
        if not increment:
            self._stream_error(st, PROTOCOL_ERROR)
            return
        st.window += increment
        if st.window > MAX_WINDOW:
            self._stream_error(st, FLOW_CONTROL_ERROR)
        elif st.pending:
            self._flush_stream(st)

    def _settings(self, sid: int, flags: int, payload: bytes) -> None:
        if sid:
            raise H2Error("SETTINGS on a stream")
        if flags & ACK:
            if payload:
                raise H2Error("SETTINGS ACK with a payload", FRAME_SIZE_ERROR)
            return
        if len(payload) % 6:
            raise H2Error("bad SETTINGS", FRAME_SIZE_ERROR)
        for pos in range(0, len(payload), 6):
            key, value = SETTING.unpack_from(payload, pos)
            if key == 0x4:  # INITIAL_WINDOW_SIZE: applies to open streams too
                if value > MAX_WINDOW:
                    raise H2Error("window too large", FLOW_CONTROL_ERROR)
                delta = value - self._peer_initial
                self._peer_initial = value
                for st in self.streams.values():
                    st.window += delta
                    if st.window > MAX_WINDOW:
                        raise H2Error("a stream window overflowed", FLOW_CONTROL_ERROR)
            elif key == 0x5:
                if not 16384 <= value <= 0xFFFFFF:
                    raise H2Error("bad MAX_FRAME_SIZE")
                self._peer_frame = value
            elif key == 0x2 and value > 1:
                raise H2Error("bad ENABLE_PUSH")
        self._out.append(SETTINGS_ACK)
        for st in list(self._blocked.values()):
            self._flush_stream(st)


def _ignore(st: H2Stream) -> None:
    pass


def _ignore_message(st: H2Stream, data: bytes) -> None:
    pass
