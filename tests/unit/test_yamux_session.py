"""The thread-based yamux Session over socketpairs: Python against Python, or against a bare core.

The "raw peer" is the sans-IO core driven by the test thread, so each test sees exactly which
frames the Session wrote and can hold back answers (ACKs, window updates, pongs) at will.
No test asserts a duration; timeouts are only there so that a bug fails instead of hanging.
"""

from __future__ import annotations

import os
import socket
import threading
from typing import TYPE_CHECKING

import pytest
from threaded import joined, run

from goplugin._yamux.connection import Connection
from goplugin._yamux.frames import (
    FLAG_ACK,
    FLAG_RST,
    FLAG_SYN,
    INITIAL_STREAM_WINDOW,
    DataReceived,
    Event,
    FrameType,
    GoAwayReceived,
    PingAcknowledged,
    PingReceived,
    StreamOpened,
    encode_header,
)
from goplugin._yamux.session import Session, Stream
from goplugin.errors import ConnectionClosedError, ProtocolError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

SAFETY = 20.0  # seconds; only reached when something is broken


class RawPeer:
    """The other end of a Session, played by a bare core on a plain socket."""

    def __init__(self, sock: socket.socket, *, client: bool) -> None:
        self.sock = sock
        self.core = Connection(client=client)
        sock.settimeout(SAFETY)

    def flush(self) -> None:
        data = self.core.data_to_send()
        if data:
            self.sock.sendall(data)

    def receive(self) -> list[Event]:
        data = self.sock.recv(1 << 20)
        if not data:
            raise EOFError
        return list(self.core.receive_data(data))

    def until(self, predicate: Callable[[Event], bool]) -> list[Event]:
        """Events up to and including the first matching one."""
        seen: list[Event] = []
        while True:
            for event in self.receive():
                seen.append(event)
                if predicate(event):
                    return seen


def finished(*sessions: Session) -> bool:
    """Both threads of each session are gone."""
    return not any(t.is_alive() for s in sessions for t in (s._reader, s._keeper))


@pytest.fixture
def pair() -> Iterator[tuple[Session, Session]]:
    a, b = socket.socketpair()
    client, server = Session(a, client=True), Session(b, client=False)
    yield client, server
    client.close()
    server.close()
    assert finished(client, server)


@pytest.fixture
def raw() -> Iterator[tuple[Session, RawPeer]]:
    a, b = socket.socketpair()
    session = Session(a, client=True, keepalive_interval=None)
    peer = RawPeer(b, client=False)
    yield session, peer
    session.close()
    b.close()
    assert finished(session)


def echo_server(session: Session) -> threading.Thread:
    def serve() -> None:
        while True:
            try:
                stream = session.accept_stream()
            except ConnectionClosedError:
                return
            assert stream is not None
            threading.Thread(target=echo, args=(stream,), daemon=True).start()

    def echo(stream: Stream) -> None:
        try:
            while data := stream.read():
                stream.write(data)
            stream.close()
        except ConnectionClosedError:
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def read_all(stream: Stream) -> bytes:
    out = bytearray()
    while data := stream.read(1 << 20):
        out += data
    return bytes(out)


# --- data ------------------------------------------------------------------------------------


def test_echo_larger_than_the_window_both_ways(pair: tuple[Session, Session]) -> None:
    client, server = pair
    echo_server(server)
    payload = os.urandom(3 * INITIAL_STREAM_WINDOW + 12345)
    stream = client.open_stream()

    def send() -> None:
        stream.write(payload)
        stream.close()

    writer, box = run(send)
    assert read_all(stream) == payload
    assert joined(writer, box, SAFETY) is None


def test_many_streams_beyond_the_backlog(pair: tuple[Session, Session]) -> None:
    client, server = pair
    echo_server(server)
    streams = [client.open_stream() for _ in range(300)]
    assert len({s.id for s in streams}) == 300 and all(s.id % 2 for s in streams)
    for i, stream in enumerate(streams):
        stream.write(b"%d" % i)
        stream.close()
    assert [read_all(s) for s in streams] == [b"%d" % i for i in range(300)]


def test_read_exact_and_small_reads(pair: tuple[Session, Session]) -> None:
    client, server = pair
    stream = client.open_stream()

    def write() -> None:
        for i in range(100):
            stream.write(bytes([i]) * 3)
        stream.write(os.urandom(INITIAL_STREAM_WINDOW))  # more than one window in flight
        stream.close()

    writer, box = run(write)
    peer = server.accept_stream(SAFETY)
    assert peer is not None
    assert peer.read_exact(150) == b"".join(bytes([i]) * 3 for i in range(50))
    assert peer.read(1) == bytes([50])
    assert len(peer.read_exact(149 + INITIAL_STREAM_WINDOW)) == 149 + INITIAL_STREAM_WINDOW
    assert peer.read() == b""
    assert joined(writer, box, SAFETY) is None
    assert peer.read_exact(0) == b""
    with pytest.raises(ConnectionClosedError, match="ended after 0 of 1"):
        peer.read_exact(1)


def test_half_close_keeps_the_other_direction(pair: tuple[Session, Session]) -> None:
    client, server = pair
    stream = client.open_stream()
    stream.write(b"question")
    stream.close()
    with pytest.raises(ConnectionClosedError, match="closed for writing"):
        stream.write(b"more")
    peer = server.accept_stream(SAFETY)
    assert peer is not None
    assert read_all(peer) == b"question"
    peer.write(b"answer")
    peer.close()
    assert read_all(stream) == b"answer"


def test_sender_respects_the_peers_window(raw: tuple[Session, RawPeer]) -> None:
    session, peer = raw
    stream = session.open_stream()
    writer, box = run(lambda: stream.write(bytes(INITIAL_STREAM_WINDOW * 2 + 5)))
    got = 0
    while got < INITIAL_STREAM_WINDOW:  # the raw core raises if the window is overrun
        got += sum(len(e.data) for e in peer.receive() if isinstance(e, DataReceived))
    assert got == INITIAL_STREAM_WINDOW and writer.is_alive()
    peer.core.consumed(stream.id, got)  # credit for the rest: the write can finish
    peer.flush()
    while got < INITIAL_STREAM_WINDOW * 2 + 5:
        events = peer.receive()
        for event in events:
            if isinstance(event, DataReceived):
                got += len(event.data)
                peer.core.consumed(stream.id, len(event.data))
        peer.flush()
    assert joined(writer, box, SAFETY) is None


def test_open_blocks_while_the_backlog_is_unacknowledged() -> None:
    a, b = socket.socketpair()
    peer = RawPeer(b, client=False)
    with Session(a, client=True, keepalive_interval=None, accept_backlog=2) as session:
        first = session.open_stream()
        session.open_stream()
        assert not session._core.can_open_stream
        opener, box = run(session.open_stream)
        peer.until(lambda e: isinstance(e, StreamOpened) and e.stream_id == 3)
        peer.core.accept_stream(first.id)
        peer.flush()
        third = joined(opener, box, SAFETY)
        assert isinstance(third, Stream) and third.id == 5
    b.close()


# --- endings ---------------------------------------------------------------------------------


def test_close_wakes_every_blocked_call_and_joins_threads() -> None:
    a, b = socket.socketpair()
    peer = RawPeer(b, client=False)
    session = Session(a, client=True)
    stream = session.open_stream()
    blocked = [
        run(stream.read),
        run(lambda: stream.write(bytes(INITIAL_STREAM_WINDOW + 1))),
        run(session.accept_stream),
    ]
    peer.until(lambda e: isinstance(e, DataReceived))  # the writer got as far as it can
    session.close()
    for thread, box in blocked:
        assert isinstance(joined(thread, box, SAFETY), ConnectionClosedError)
    assert session.closed and finished(session)
    with pytest.raises(ConnectionClosedError):
        session.open_stream()
    session.close()  # idempotent
    b.close()


def test_peer_eof_ends_the_session_and_the_threads() -> None:
    a, b = socket.socketpair()
    session = Session(a, client=False)
    reader, box = run(session.accept_stream)
    b.close()
    error = joined(reader, box, SAFETY)
    assert isinstance(error, ConnectionClosedError) and "closed by the peer" in str(error)
    for thread in (session._reader, session._keeper):  # they end without close()
        thread.join(SAFETY)
    assert finished(session)


def test_reset_wakes_readers_on_both_sides(pair: tuple[Session, Session]) -> None:
    client, server = pair
    stream = client.open_stream()
    stream.write(b"x")
    peer = server.accept_stream(SAFETY)
    assert peer is not None and peer.read() == b"x"
    remote, remote_box = run(peer.read)
    local, local_box = run(stream.read)
    stream.reset()
    assert "was reset" in str(joined(local, local_box, SAFETY))
    assert "was reset" in str(joined(remote, remote_box, SAFETY))
    with pytest.raises(ConnectionClosedError, match="reset"):
        peer.write(b"y")


def test_protocol_error_from_the_peer() -> None:
    a, b = socket.socketpair()
    session = Session(a, client=True)
    reader, box = run(session.accept_stream)
    b.sendall(b"\x07" + bytes(11))  # version 7
    error = joined(reader, box, SAFETY)
    assert isinstance(error, ConnectionClosedError)
    assert isinstance(error.__cause__, ProtocolError) and "version" in str(error.__cause__)
    b.settimeout(SAFETY)
    assert b.recv(12) == encode_header(FrameType.GO_AWAY, 0, 0, 1)  # told the peer why
    session.close()
    b.close()


def test_remote_go_away_stops_open_stream(raw: tuple[Session, RawPeer]) -> None:
    session, peer = raw
    stream = session.open_stream()
    peer.until(lambda e: isinstance(e, StreamOpened))
    peer.core.go_away()
    peer.core.ping(1)  # its answer proves the session has seen the go-away
    peer.flush()
    peer.until(lambda e: isinstance(e, PingAcknowledged))
    with pytest.raises(ConnectionClosedError, match="not accepting"):
        session.open_stream()
    stream.write(b"existing streams carry on")
    assert peer.until(lambda e: isinstance(e, DataReceived))[-1] == DataReceived(
        stream.id, b"existing streams carry on"
    )


def test_local_go_away_refuses_new_streams() -> None:
    a, b = socket.socketpair()
    peer = RawPeer(b, client=True)
    with Session(a, client=False, keepalive_interval=None) as session:
        session.go_away()
        assert peer.until(lambda e: isinstance(e, GoAwayReceived))
        peer.sock.sendall(encode_header(FrameType.WINDOW_UPDATE, FLAG_SYN, 1, 0))
        assert peer.sock.recv(12) == encode_header(FrameType.WINDOW_UPDATE, FLAG_RST, 1, 0)
        assert session.accept_stream(timeout=0) is None
    b.close()


def test_accept_timeout_returns_none(pair: tuple[Session, Session]) -> None:
    _, server = pair
    assert server.accept_stream(timeout=0.01) is None


# --- pings -----------------------------------------------------------------------------------


def test_ping_round_trip(pair: tuple[Session, Session]) -> None:
    client, server = pair
    rtt = client.ping()
    assert rtt is not None and rtt >= 0
    assert server.ping() is not None


def test_unanswered_ping(raw: tuple[Session, RawPeer]) -> None:
    session, _ = raw  # the raw peer never reads, so never answers
    assert session.ping(timeout=0.01) is None


def test_keepalive_pings_and_answers() -> None:
    a, b = socket.socketpair()
    peer = RawPeer(b, client=True)
    with Session(a, client=False, keepalive_interval=0.001) as session:
        pings = [e for e in peer.until(lambda e: isinstance(e, PingReceived))]
        first = pings[-1]
        assert isinstance(first, PingReceived)
        peer.flush()  # answer it: the keeper goes on pinging
        second = peer.until(lambda e: isinstance(e, PingReceived))[-1]
        assert isinstance(second, PingReceived) and second.opaque != first.opaque
        # and the session answers ours
        peer.core.ping(42)
        peer.flush()
        acks = peer.until(lambda e: getattr(e, "opaque", None) == 42)
        assert not any(isinstance(e, GoAwayReceived) for e in acks)
        assert not session.closed
    b.close()


def test_keepalive_timeout_closes_the_session() -> None:
    a, b = socket.socketpair()
    with Session(a, client=True, keepalive_interval=0.001, keepalive_timeout=0.01) as session:
        blocked, box = run(session.accept_stream)  # the peer never answers
        error = joined(blocked, box, SAFETY)
        assert isinstance(error, ConnectionClosedError) and "keepalive timeout" in str(error)
    b.close()


def test_pings_are_answered_with_ack(raw: tuple[Session, RawPeer]) -> None:
    _, peer = raw
    peer.sock.sendall(encode_header(FrameType.PING, FLAG_SYN, 0, 99))
    peer.sock.settimeout(SAFETY)
    assert peer.sock.recv(12) == encode_header(FrameType.PING, FLAG_ACK, 0, 99)


def test_fin_and_reset_in_one_read_keep_the_session(raw: tuple[Session, RawPeer]) -> None:
    # A peer that half-closes and then resets a stream can land both frames in one recv: the
    # core has forgotten the stream by the time the session dispatches the FIN's event.
    session, peer = raw
    stream = session.open_stream()
    stream.write(b"x")
    peer.until(lambda e: isinstance(e, DataReceived))
    peer.core.accept_stream(stream.id)
    peer.core.close_stream(stream.id)
    peer.core.reset_stream(stream.id)
    peer.flush()
    with pytest.raises(ConnectionClosedError, match="reset"):
        while stream.read():
            pass
    assert not session.closed and session._reader.is_alive()
    other = session.open_stream()  # and the session carries on
    other.write(b"y")
    peer.until(lambda e: isinstance(e, DataReceived) and e.stream_id == other.id)
