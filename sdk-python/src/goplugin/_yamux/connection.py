"""Sans-IO yamux session: feed it received bytes, get events; call it to act, collect the bytes.

No sockets, no threads, no clocks: the IO layer (``_yamux/session.py``) owns those. The rules follow
hashicorp/yamux v0.1.2 (``session.go``, ``stream.go``) as go-plugin v1.8.0 configures it
(``yamux.Client(conn, nil)`` on the host, ``yamux.Server(conn, nil)`` in the plugin), with one
difference on purpose: input that a conforming peer never sends is rejected with a typed error
instead of being tolerated, so a broken or hostile peer cannot make us misbehave or hoard memory.
Memory is bounded by construction: a frame larger than our window is refused at its header,
data beyond a stream's advertised window is a protocol error, and replies the peer provokes
(pings, refused streams) are capped while the IO layer has not written them out.
"""

from __future__ import annotations

from ..errors import ConnectionClosedError, ProtocolError
from . import frames as ev
from .frames import (
    FLAG_ACK,
    FLAG_FIN,
    FLAG_RST,
    FLAG_SYN,
    HEADER,
    INITIAL_STREAM_WINDOW,
    MAX_UINT32,
    PROTO_VERSION,
)
from .state import PEER_MAY_SEND, TRANSITIONS, WE_MAY_SEND, Op, StreamRecord, StreamState

__all__ = ["Connection", "StreamState"]

_DATA, _WINDOW_UPDATE, _PING, _GO_AWAY = 0, 1, 2, 3
# Replies the peer can provoke (ping ACKs, RSTs of refused streams) that may sit unwritten; a
# conforming peer stays far below this (Go pings one at a time and opens at most 256 unacked).
MAX_PENDING_REPLIES = 4096
_S = StreamState


class Connection:
    """One side of a yamux session. ``client=True`` for the go-plugin host (odd stream ids).

    Methods never block and never do IO: they update state and append frames to an outgoing
    buffer that ``data_to_send()`` drains, in order. Data beyond the peer's window is queued per
    stream and released by the peer's window updates; ``queued_bytes()`` lets the IO layer
    apply back-pressure. After a ``ProtocolError`` the connection is dead: every further call
    raises ``ConnectionClosedError`` and the pending output ends with a go-away.
    """

    def __init__(
        self,
        *,
        client: bool,
        max_window: int = INITIAL_STREAM_WINDOW,
        accept_backlog: int = ev.DEFAULT_ACCEPT_BACKLOG,
    ) -> None:
        if not INITIAL_STREAM_WINDOW <= max_window <= MAX_UINT32:
            raise ValueError(f"max_window must be in [{INITIAL_STREAM_WINDOW}, {MAX_UINT32}]")
        if accept_backlog <= 0:
            raise ValueError("accept_backlog must be positive")
        self.client = client
        self._max_window = max_window
        self._half_window = max_window // 2
        self._backlog = accept_backlog
        self._next_id = 1 if client else 2
        self._max_peer_id = 0
        self._streams: dict[int, StreamRecord] = {}
        self._inbuf = bytearray()
        self._out: list[bytes | memoryview] = []
        self._pending_replies = 0
        self._syn_unacked = 0  # streams we opened that the peer has not acknowledged
        self._ack_owed = 0  # streams the peer opened that we have not acknowledged
        self.local_go_away = False
        self.remote_go_away = False
        self._dead: ProtocolError | None = None

    # --- queries ---------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._dead is not None

    @property
    def can_open_stream(self) -> bool:
        """False while ``accept_backlog`` of our streams await an ACK: yamux blocks the opener."""
        return self._syn_unacked < self._backlog

    @property
    def buffered_input(self) -> int:
        """Bytes of an incomplete frame held back; never more than a header plus our window."""
        return len(self._inbuf)

    @property
    def has_data_to_send(self) -> bool:
        return bool(self._out)

    def stream_state(self, stream_id: int) -> StreamState | None:
        st = self._streams.get(stream_id)
        return None if st is None else st.state

    def queued_bytes(self, stream_id: int) -> int:
        """Data accepted by ``send_data`` that still waits for send window (0 if none)."""
        st = self._streams.get(stream_id)
        return 0 if st is None else st.queued

    def data_to_send(self) -> bytes:
        """Everything to write to the transport, in order; empty when there is nothing."""
        out = self._out
        if not out:
            return b""
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        self._pending_replies = 0
        return bytes(data)

    # --- receiving -------------------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[ev.Event]:
        """Handle every frame ``data`` completes; keep an incomplete one for the next call."""
        if self._dead is not None:
            raise ConnectionClosedError("yamux session is closed") from self._dead
        events: list[ev.Event] = []
        buf: bytes | bytearray | memoryview = data
        if self._inbuf:
            self._inbuf += data
            buf = self._inbuf
        try:
            frames, used = ev.split_frames(buf, self._max_window)
            for ftype, flags, sid, length, payload in frames:
                if ftype <= _WINDOW_UPDATE:
                    self._on_stream_frame(ftype, flags, sid, length, payload, events)
                elif ftype == _PING:
                    self._on_ping(flags, sid, length, events)
                else:
                    self._on_go_away(sid, length, events)
        except ProtocolError as exc:
            self._fail(exc)
            raise
        if buf is self._inbuf:
            del self._inbuf[:used]
        elif used < len(buf):
            self._inbuf = bytearray(buf[used:])
        return events

    def _fail(self, exc: ProtocolError) -> None:
        self._die(exc)
        if not isinstance(exc, ConnectionClosedError):  # not when the peer ended it
            self._out.append(HEADER.pack(PROTO_VERSION, _GO_AWAY, 0, 0, ev.GO_AWAY_PROTOCOL_ERROR))

    def _die(self, exc: ProtocolError) -> None:
        self._dead = exc
        self._inbuf = bytearray()
        for st in self._streams.values():
            st.queue.clear()
            st.queued = 0

    def _on_stream_frame(
        self, ftype: int, flags: int, sid: int, length: int, payload: bytes, events: list[ev.Event]
    ) -> None:
        if flags & FLAG_SYN:
            self._open_incoming(sid, events)
        st = self._streams.get(sid)
        if st is None:
            if not self._was_used(sid):
                raise ProtocolError(f"yamux: frame for stream {sid}, which was never opened")
            return  # in flight when we reset or refused it: yamux discards these too
        if flags & FLAG_RST:
            self._forget(st, _S.RESET)
            events.append(ev.StreamReset(sid))
            return
        state = st.state
        if flags & FLAG_ACK:
            if st.syn_unacked:
                st.syn_unacked = False
                self._syn_unacked -= 1
                events.append(ev.StreamEstablished(sid))
            state = TRANSITIONS[state].get(Op.RECV_ACK, state)
        if ftype == _DATA:
            if length:
                if st.state not in PEER_MAY_SEND:
                    raise ProtocolError(f"yamux: data on stream {sid} after its FIN")
                if length > st.recv_window:
                    raise ProtocolError(
                        f"yamux: receive window exceeded on stream {sid} "
                        f"({length} > {st.recv_window})"
                    )
                st.recv_window -= length
                st.unconsumed += length
                events.append(ev.DataReceived(sid, payload))
        elif length:
            window = st.send_window + length
            if window > MAX_UINT32:
                raise ProtocolError(f"yamux: send window of stream {sid} overflows 32 bits")
            st.send_window = window
            if st.queue:
                self._pump(st)
            events.append(ev.WindowUpdated(sid, length))
        if flags & FLAG_FIN:
            new_state = TRANSITIONS.get(state, {}).get(Op.RECV_FIN)
            if new_state is None:
                raise ProtocolError(f"yamux: unexpected FIN on stream {sid} ({state.name})")
            events.append(ev.StreamEnded(sid))
            if new_state is _S.CLOSED:
                self._forget(st, new_state)
                return
            state = new_state
        st.state = state

    def _open_incoming(self, sid: int, events: list[ev.Event]) -> None:
        if sid == 0 or (sid & 1) == (self._next_id & 1):
            raise ProtocolError(f"yamux: peer opened stream {sid}, an id it may not use")
        if sid in self._streams:
            raise ProtocolError(f"yamux: duplicate stream {sid} opened")
        if sid > self._max_peer_id:
            self._max_peer_id = sid
        if self.local_go_away or self._ack_owed >= self._backlog:
            # yamux refuses with a RST (backlog exceeded, or we are going away).
            self._reply(_WINDOW_UPDATE, FLAG_RST, sid, 0)
            return
        self._streams[sid] = StreamRecord(sid, _S.SYN_RECEIVED)
        self._ack_owed += 1
        events.append(ev.StreamOpened(sid))

    def _was_used(self, sid: int) -> bool:
        """Whether ``sid`` was ever opened, so that late frames for it are harmless."""
        if sid == 0:
            return False
        if (sid & 1) == (self._next_id & 1):
            return sid < self._next_id
        return sid <= self._max_peer_id

    def _on_ping(self, flags: int, sid: int, opaque: int, events: list[ev.Event]) -> None:
        if sid != 0:
            raise ProtocolError(f"yamux: ping on stream {sid} (must be 0)")
        if flags & FLAG_SYN:
            self._reply(_PING, FLAG_ACK, 0, opaque)
            events.append(ev.PingReceived(opaque))
        else:
            events.append(ev.PingAcknowledged(opaque))

    def _on_go_away(self, sid: int, code: int, events: list[ev.Event]) -> None:
        if sid != 0:
            raise ProtocolError(f"yamux: go-away on stream {sid} (must be 0)")
        if code == ev.GO_AWAY_NORMAL:
            self.remote_go_away = True
            events.append(ev.GoAwayReceived(code))
        elif code == ev.GO_AWAY_PROTOCOL_ERROR:
            raise ConnectionClosedError("yamux: the peer ended the session: protocol error")
        elif code == ev.GO_AWAY_INTERNAL_ERROR:
            raise ConnectionClosedError("yamux: the peer ended the session: internal error")
        else:
            raise ProtocolError(f"yamux: unknown go-away code {code}")

    def _reply(self, ftype: int, flags: int, sid: int, length: int) -> None:
        self._pending_replies += 1
        if self._pending_replies > MAX_PENDING_REPLIES:
            raise ProtocolError(
                f"yamux: the peer provoked {MAX_PENDING_REPLIES} replies without reading them"
            )
        self._out.append(HEADER.pack(PROTO_VERSION, ftype, flags, sid, length))

    # --- acting ----------------------------------------------------------------------------

    def _alive(self) -> None:
        if self._dead is not None:
            raise ConnectionClosedError("yamux session is closed") from self._dead

    def _live_stream(self, stream_id: int) -> StreamRecord:
        st = self._streams.get(stream_id)
        if st is None or self._dead is not None:
            self._alive()
            raise ConnectionClosedError(f"yamux stream {stream_id} is closed or was reset")
        return st

    def open_stream(self) -> int:
        """Allocate the next id and queue its SYN (a window update, as yamux sends it)."""
        self._alive()
        if self.remote_go_away:
            raise ConnectionClosedError("yamux: remote end is not accepting connections")
        sid = self._next_id
        if sid >= MAX_UINT32 - 1:
            raise ConnectionClosedError("yamux: stream ids exhausted")
        self._next_id = sid + 2
        st = StreamRecord(sid, _S.SYN_SENT)
        self._streams[sid] = st
        self._syn_unacked += 1
        delta = self._max_window - st.recv_window
        st.recv_window += delta
        self._out.append(HEADER.pack(PROTO_VERSION, _WINDOW_UPDATE, FLAG_SYN, sid, delta))
        return sid

    def accept_stream(self, stream_id: int) -> None:
        """Acknowledge a stream the peer opened: what yamux's ``Accept`` sends."""
        st = self._live_stream(stream_id)
        if st.ack_owed:
            self._window_update(st)

    def _take_ack(self, st: StreamRecord) -> int:
        if not st.ack_owed:
            return 0
        st.ack_owed = False
        self._ack_owed -= 1
        st.state = TRANSITIONS[st.state].get(Op.SEND_ACK, st.state)
        return FLAG_ACK

    def _window_update(self, st: StreamRecord) -> None:
        # yamux: credit back what the application consumed, but only in chunks of at least
        # half the window, unless a flag (the ACK) must go out anyway.
        flags = self._take_ack(st) if st.ack_owed else 0
        delta = self._max_window - st.unconsumed - st.recv_window
        if delta < self._half_window and not flags:
            return
        st.recv_window += delta
        self._out.append(HEADER.pack(PROTO_VERSION, _WINDOW_UPDATE, flags, st.id, delta))

    def consumed(self, stream_id: int, nbytes: int) -> None:
        """The application took ``nbytes`` of a stream's received data: maybe grant credit."""
        self._alive()
        st = self._streams.get(stream_id)
        if st is None:
            return
        if not 0 <= nbytes <= st.unconsumed:
            raise ValueError(f"consumed {nbytes} bytes, but only {st.unconsumed} were delivered")
        st.unconsumed -= nbytes
        if st.state in PEER_MAY_SEND:
            self._window_update(st)

    def send_data(self, stream_id: int, data: bytes | bytearray | memoryview) -> None:
        """Queue data; frames go out as far as the peer's window allows, the rest waits."""
        st = self._live_stream(stream_id)
        if st.state not in WE_MAY_SEND or st.fin_pending:
            raise ConnectionClosedError(f"yamux stream {stream_id} is closed for writing")
        if not isinstance(data, bytes):
            data = bytes(data)  # the caller may reuse its buffer once we return
        n = len(data)
        if not st.queue and 0 < n <= st.send_window:  # the common case: straight out
            st.send_window -= n
            flags = self._take_ack(st) if st.ack_owed else 0
            self._out.append(HEADER.pack(PROTO_VERSION, _DATA, flags, stream_id, n))
            self._out.append(data)
        elif n:
            st.queue.append(memoryview(data))
            st.queued += n
            if st.send_window:
                self._pump(st)

    def _pump(self, st: StreamRecord) -> None:
        queue, out = st.queue, self._out
        while queue and st.send_window:
            chunk = queue[0]
            n = len(chunk)
            if n <= st.send_window:
                queue.popleft()
            else:
                n = st.send_window
                queue[0] = chunk[n:]
                chunk = chunk[:n]
            st.queued -= n
            st.send_window -= n
            flags = self._take_ack(st) if st.ack_owed else 0
            out.append(HEADER.pack(PROTO_VERSION, _DATA, flags, st.id, n))
            out.append(chunk)
        if st.fin_pending and not queue:
            st.fin_pending = False
            self._send_fin(st)

    def close_stream(self, stream_id: int) -> None:
        """Half-close (FIN) once queued data is out; idempotent, like yamux's ``Close``."""
        self._alive()
        st = self._streams.get(stream_id)
        if st is None or st.fin_pending or st.state not in WE_MAY_SEND:
            return
        if st.queue:
            st.fin_pending = True
        else:
            self._send_fin(st)

    def _send_fin(self, st: StreamRecord) -> None:
        flags = self._take_ack(st) | FLAG_FIN
        self._out.append(HEADER.pack(PROTO_VERSION, _WINDOW_UPDATE, flags, st.id, 0))
        new_state = TRANSITIONS[st.state][Op.SEND_FIN]
        if new_state is _S.CLOSED:
            self._forget(st, new_state)
        else:
            st.state = new_state

    def reset_stream(self, stream_id: int) -> None:
        """Abort a stream (RST), dropping queued data; a no-op on a stream already gone."""
        self._alive()
        st = self._streams.get(stream_id)
        if st is None:
            return
        flags = self._take_ack(st) | FLAG_RST
        self._out.append(HEADER.pack(PROTO_VERSION, _WINDOW_UPDATE, flags, stream_id, 0))
        self._forget(st, _S.RESET)

    def _forget(self, st: StreamRecord, state: StreamState) -> None:
        del self._streams[st.id]
        st.state = state
        if st.syn_unacked:
            st.syn_unacked = False
            self._syn_unacked -= 1
        if st.ack_owed:
            st.ack_owed = False
            self._ack_owed -= 1
        st.queue.clear()
        st.queued = 0

    def ping(self, opaque: int) -> None:
        """Queue a ping request; the answer arrives as ``PingAcknowledged(opaque)``."""
        self._alive()
        self._out.append(HEADER.pack(PROTO_VERSION, _PING, FLAG_SYN, 0, opaque & MAX_UINT32))

    def go_away(self, code: int = ev.GO_AWAY_NORMAL) -> None:
        """Tell the peer we accept no more streams; later SYNs are refused with RST."""
        self._alive()
        self.local_go_away = True
        self._out.append(HEADER.pack(PROTO_VERSION, _GO_AWAY, 0, 0, code))

    def close(self, cause: BaseException | None = None) -> None:
        """Mark the session over (the transport is gone); later calls raise."""
        if self._dead is None:
            err = ConnectionClosedError("yamux session closed")
            err.__cause__ = cause
            self._die(err)
