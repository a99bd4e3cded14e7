"""Flow control of the pure engine's HTTP/2 core, both ways: what a client may send is what
the handler consumed plus bounded windows; what we send waits for the peer and the socket.
"""

from __future__ import annotations

import struct

from h2peer import CONTINUATION, DATA, HEADERS, RST_STREAM, SETTINGS, Peer, frame, grpc_message

from goplugin._engines._frames import CONN_WINDOW, HOLD_CAP, STREAM_WINDOW
from goplugin._engines._h2 import H2Server, H2Stream
from goplugin._engines._hpack import status_block


class Handlers:
    """Streaming handlers that read only when told to."""

    def __init__(self, server: H2Server) -> None:
        self.server = server
        self.inbox: dict[int, list[bytes]] = {}
        self.streams: dict[int, H2Stream] = {}
        server.on_request = self._request
        server.on_message = lambda st, data: self.inbox[st.id].append(data)

    def _request(self, st: H2Stream) -> None:
        st.call = True
        st.autoack = False  # a request stream: consumed as the handler reads
        self.inbox[st.id] = []
        self.streams[st.id] = st

    def read(self, sid: int, count: int | None = None) -> list[bytes]:
        inbox = self.inbox[sid]
        taken, self.inbox[sid] = inbox[:count], inbox[len(inbox[:count]) :]
        for message in taken:
            self.server.consumed(self.streams[sid], len(message) + 5)
        return taken


def _messages(count: int, size: int) -> bytes:
    return b"".join(grpc_message(bytes([i % 256]) * size) for i in range(count))


def test_a_handler_that_does_not_read_stops_its_sender_at_one_stream_window() -> None:
    peer = Peer()
    handlers = Handlers(peer.server)
    peer.open(1, "/s/Collect")
    data = _messages(400, 64 << 10)  # 25 MiB
    sent = peer.send(1, data)
    # Without reads, the sender gets no more than the stream's window.
    assert sent <= STREAM_WINDOW
    assert sent >= STREAM_WINDOW - (64 << 10)
    assert peer.server.held == sent
    # As the handler reads, window comes back, and everything arrives in order.
    got: list[bytes] = []
    while sent < len(data):
        got += handlers.read(1)
        progress = peer.send(1, data[sent:])
        assert progress, "the sender stalled although the handler read everything"
        sent += progress
        assert peer.server.held <= STREAM_WINDOW
    got += handlers.read(1)
    assert b"".join(grpc_message(m) for m in got) == data


def test_streams_that_do_not_read_cannot_hold_more_than_the_connection_allows() -> None:
    peer = Peer()
    handlers = Handlers(peer.server)
    total = 0
    for sid in range(1, 40, 2):  # 20 streams, each trying to send 8 MiB
        peer.open(sid, "/s/Collect")
        total += peer.send(sid, _messages(128, 64 << 10))
    assert total <= HOLD_CAP + CONN_WINDOW
    assert peer.server.held == total
    # A stream whose handler reads still gets its data through once others are read.
    for sid in range(1, 40, 2):
        handlers.read(sid)
    # What is left held is the messages still partial.
    assert peer.server.held == sum(len(st.buf) for st in peer.server.streams.values())
    peer.open(41, "/s/Collect")
    assert peer.send(41, _messages(4, 1024)) == 4 * 1029


def test_a_message_bigger_than_the_window_gets_the_window_it_needs() -> None:
    peer = Peer()
    handlers = Handlers(peer.server)
    peer.open(1, "/s/Collect")
    big = grpc_message(b"\x07" * (3 * STREAM_WINDOW))
    sent = peer.send(1, big)
    assert sent == len(big)  # granted as the message came in: the handler waits for it
    assert handlers.read(1) == [big[5:]]
    # But two messages queued unread hold the next big one back.
    sent = peer.send(1, grpc_message(b"a" * (1 << 20)) * 2 + big)
    assert sent < STREAM_WINDOW + (1 << 20)


def test_a_unary_request_is_consumed_as_it_arrives() -> None:
    peer = Peer()
    peer.server.on_request = lambda st: setattr(st, "call", True)
    for sid in range(1, 200, 2):
        peer.open(sid, "/s/Get")
        body = grpc_message(b"x" * (1 << 20))
        assert peer.send(sid, body, end=True) == len(body)
    assert peer.server.held == 0


def test_data_waits_while_the_driver_holds_output_back() -> None:
    peer = Peer()
    peer.server.receive(frame(SETTINGS, 0, 0, struct.pack(">HL", 4, 1 << 30)))
    peer.open(1, "/s/Generate", end=True)
    server = peer.server
    st = server.streams[1]
    st.call = True
    drained: list[int] = []
    server.on_drained = lambda s: drained.append(s.id)
    server.hold_data = True
    server.send_headers(st)
    server.send_message(st, b"x" * 1000)
    assert st.pending_bytes == 1005
    assert DATA not in peer.kinds(1) + [k for k, _, _, _ in peer.read()]
    server.release_data()
    assert [k for k, _, _, _ in peer.read()] == [DATA]
    assert st.pending_bytes == 0 and drained == [1]


def test_headers_bigger_than_the_peers_frame_size_continue_in_continuation_frames() -> None:
    peer = Peer()
    peer.open(1, "/s/Get", end=True)
    st = peer.server.streams[1]
    big = "e" * 20000
    peer.server.send_trailers(st, status_block(2, big))
    got = peer.read()
    assert [k for k, _, _, _ in got] == [HEADERS, CONTINUATION]
    assert all(len(p) <= 16384 for _, _, _, p in got)
    (trailers,) = peer.headers_of(1)
    assert ("grpc-status", "2") in trailers


def test_a_sender_past_the_stream_window_gets_its_stream_reset() -> None:
    peer = Peer()
    Handlers(peer.server)
    peer.open(1, "/s/Collect")
    peer.server.receive(frame(DATA, 0, 1, b"\x00" * 16384) * (STREAM_WINDOW // 16384 + 1))
    got = peer.read()
    assert (RST_STREAM, 0, 1, struct.pack(">L", 3)) in got  # FLOW_CONTROL_ERROR
