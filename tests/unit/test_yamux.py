"""The sans-IO yamux core: frame codec, stream states, flow control, pings, go-away, errors.

Two cores are wired back to back in memory; byte-exact expectations come from hashicorp/yamux
v0.1.2 (what its session.go and stream.go put on the wire with the default config).
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goplugin._yamux.connection import MAX_PENDING_REPLIES, Connection, StreamState
from goplugin._yamux.frames import (
    FLAG_ACK,
    FLAG_FIN,
    FLAG_RST,
    FLAG_SYN,
    HEADER_SIZE,
    INITIAL_STREAM_WINDOW,
    DataReceived,
    FrameType,
    GoAwayReceived,
    Header,
    PingAcknowledged,
    PingReceived,
    StreamEnded,
    StreamEstablished,
    StreamOpened,
    StreamReset,
    WindowUpdated,
    decode_header,
    encode_header,
)
from goplugin.errors import ConnectionClosedError, ProtocolError

DATA, WU, PING, GO_AWAY = (int(t) for t in FrameType)
WINDOW = INITIAL_STREAM_WINDOW


def frames(data: bytes) -> list[tuple[Header, bytes]]:
    """Split bytes into (header, payload) pairs."""
    out = []
    pos = 0
    while pos < len(data):
        hdr = decode_header(data, pos)
        size = hdr.length if hdr.type == DATA else 0
        out.append((hdr, data[pos + HEADER_SIZE : pos + HEADER_SIZE + size]))
        pos += HEADER_SIZE + size
    return out


def pump(src: Connection, dst: Connection) -> list[object]:
    data = src.data_to_send()
    return list(dst.receive_data(data)) if data else []


@pytest.fixture
def pair() -> tuple[Connection, Connection]:
    return Connection(client=True), Connection(client=False)


def established(pair: tuple[Connection, Connection]) -> int:
    client, server = pair
    sid = client.open_stream()
    pump(client, server)
    server.accept_stream(sid)
    pump(server, client)
    return sid


# --- codec -------------------------------------------------------------------------------


@given(
    st.integers(0, 255),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF_FFFF),
    st.integers(0, 0xFFFF_FFFF),
)
def test_header_round_trip(ftype: int, flags: int, sid: int, length: int) -> None:
    raw = encode_header(ftype, flags, sid, length)
    assert len(raw) == HEADER_SIZE
    assert decode_header(raw) == Header(0, ftype, flags, sid, length)
    assert decode_header(b"xx" + raw, 2) == Header(0, ftype, flags, sid, length)


def test_header_is_big_endian() -> None:
    assert encode_header(WU, FLAG_SYN | FLAG_ACK, 0x01020304, 0x0A0B0C0D) == bytes.fromhex(
        "00 01 0003 01020304 0a0b0c0d"
    )


def test_header_codec_rejects_bad_input() -> None:
    with pytest.raises(ProtocolError, match="truncated"):
        decode_header(b"\x00" * 11)
    with pytest.raises(ValueError, match="out of range"):
        encode_header(DATA, 0, 1 << 32, 0)


# --- stream lifecycle --------------------------------------------------------------------


def test_stream_ids_client_odd_server_even() -> None:
    client, server = Connection(client=True), Connection(client=False)
    assert [client.open_stream() for _ in range(3)] == [1, 3, 5]
    assert [server.open_stream() for _ in range(3)] == [2, 4, 6]


def test_open_accept_bytes_match_yamux(pair: tuple[Connection, Connection]) -> None:
    client, server = pair
    sid = client.open_stream()
    syn = client.data_to_send()
    assert syn == encode_header(WU, FLAG_SYN, 1, 0)  # yamux opens with a window update
    assert server.receive_data(syn) == [StreamOpened(1)]
    assert server.stream_state(1) is StreamState.SYN_RECEIVED
    assert not server.has_data_to_send  # the ACK waits for accept, as in yamux
    server.accept_stream(sid)
    ack = server.data_to_send()
    assert ack == encode_header(WU, FLAG_ACK, 1, 0)
    assert client.receive_data(ack) == [StreamEstablished(1)]
    assert client.stream_state(1) is server.stream_state(1) is StreamState.ESTABLISHED


def test_first_frame_of_unaccepted_stream_carries_the_ack(
    pair: tuple[Connection, Connection],
) -> None:
    client, server = pair
    client.open_stream()
    pump(client, server)
    server.send_data(1, b"hi")
    [(hdr, payload)] = frames(server.data_to_send())
    assert (hdr.type, hdr.flags, payload) == (DATA, FLAG_ACK, b"hi")
    server.send_data(1, b"again")
    [(hdr, _)] = frames(server.data_to_send())
    assert hdr.flags == 0


def test_data_both_ways_and_half_close(pair: tuple[Connection, Connection]) -> None:
    client, server = pair
    sid = established(pair)
    client.send_data(sid, b"ping")
    client.close_stream(sid)
    fin = frames(client.data_to_send())
    assert [(h.type, h.flags) for h, _ in fin] == [(DATA, 0), (WU, FLAG_FIN)]
    events = server.receive_data(b"".join(encode_header(*h[1:]) + p for h, p in fin))
    assert events == [DataReceived(sid, b"ping"), StreamEnded(sid)]
    assert client.stream_state(sid) is StreamState.LOCAL_CLOSED
    assert server.stream_state(sid) is StreamState.REMOTE_CLOSED
    with pytest.raises(ConnectionClosedError):
        client.send_data(sid, b"more")
    server.send_data(sid, b"pong")  # the other half is still open
    server.close_stream(sid)
    assert pump(server, client) == [DataReceived(sid, b"pong"), StreamEnded(sid)]
    assert client.stream_state(sid) is None and server.stream_state(sid) is None


def test_close_is_idempotent_and_reset_of_unknown_is_noop(
    pair: tuple[Connection, Connection],
) -> None:
    client, _ = pair
    sid = established(pair)
    client.close_stream(sid)
    client.close_stream(sid)
    assert len(frames(client.data_to_send())) == 1
    client.reset_stream(999)
    client.close_stream(999)
    assert client.data_to_send() == b""


def test_reset_forgets_and_late_frames_are_discarded(pair: tuple[Connection, Connection]) -> None:
    client, server = pair
    sid = established(pair)
    server.send_data(sid, b"in flight")  # crosses our RST on the wire
    late = server.data_to_send()
    client.reset_stream(sid)
    assert frames(client.data_to_send())[0][0] == Header(0, WU, FLAG_RST, sid, 0)
    assert client.stream_state(sid) is None
    assert client.receive_data(late) == []  # yamux drops frames for streams it reset
    assert server.receive_data(encode_header(WU, FLAG_RST, sid, 0)) == [StreamReset(sid)]
    assert server.stream_state(sid) is None
    with pytest.raises(ConnectionClosedError, match="closed or was reset"):
        server.send_data(sid, b"x")


def test_peer_refusing_our_stream_frees_the_slot() -> None:
    client = Connection(client=True, accept_backlog=1)
    sid = client.open_stream()
    assert not client.can_open_stream
    client.data_to_send()
    assert client.receive_data(encode_header(WU, FLAG_RST, sid, 0)) == [StreamReset(sid)]
    assert client.can_open_stream


def test_close_before_accept_sends_ack_with_fin(pair: tuple[Connection, Connection]) -> None:
    client, server = pair
    client.open_stream()
    pump(client, server)
    server.close_stream(1)
    assert frames(server.data_to_send())[0][0].flags == FLAG_ACK | FLAG_FIN


def test_syn_with_data_and_fin_in_one_frame(pair: tuple[Connection, Connection]) -> None:
    _, server = pair
    frame = encode_header(DATA, FLAG_SYN | FLAG_FIN, 1, 3) + b"abc"
    assert server.receive_data(frame) == [StreamOpened(1), DataReceived(1, b"abc"), StreamEnded(1)]


# --- flow control ------------------------------------------------------------------------


def test_sender_respects_window_and_queues_the_rest(pair: tuple[Connection, Connection]) -> None:
    client, server = pair
    sid = established(pair)
    client.send_data(sid, bytes(WINDOW + 1000))
    client.close_stream(sid)  # must wait behind the queued data
    sent = frames(client.data_to_send())
    assert [(h.type, h.length) for h, _ in sent] == [(DATA, WINDOW)]
    assert client.queued_bytes(sid) == 1000
    events = server.receive_data(b"".join(encode_header(*h[1:]) + p for h, p in sent))
    assert [len(e.data) for e in events if isinstance(e, DataReceived)] == [WINDOW]
    server.consumed(sid, WINDOW // 2 - 1)
    assert not server.has_data_to_send  # below half the window: no update, like yamux
    server.consumed(sid, 1)
    update = server.data_to_send()
    assert update == encode_header(WU, 0, sid, WINDOW // 2)
    assert client.receive_data(update) == [WindowUpdated(sid, WINDOW // 2)]
    rest = frames(client.data_to_send())
    assert [(h.type, h.flags, h.length) for h, _ in rest] == [(DATA, 0, 1000), (WU, FLAG_FIN, 0)]
    assert client.queued_bytes(sid) == 0


@pytest.mark.parametrize("size", [WINDOW - 1, WINDOW, WINDOW + 1, 3 * WINDOW + 7])
def test_frames_never_exceed_the_window_at_its_edges(
    pair: tuple[Connection, Connection], size: int
) -> None:
    client, server = pair
    sid = established(pair)
    client.send_data(sid, bytes(size))
    received = 0
    while received < size:
        data = client.data_to_send()
        assert data, "sender stalled with credit available"
        for event in server.receive_data(data):  # raises if a frame overruns the window
            assert isinstance(event, DataReceived)
            received += len(event.data)
            server.consumed(sid, len(event.data))
        pump(server, client)
    assert received == size and client.queued_bytes(sid) == 0


def test_receive_window_exceeded_is_a_protocol_error(pair: tuple[Connection, Connection]) -> None:
    _, server = pair
    sid = established(pair)
    first = encode_header(DATA, 0, sid, WINDOW) + bytes(WINDOW)
    server.receive_data(first)
    with pytest.raises(ProtocolError, match="receive window exceeded"):
        server.receive_data(encode_header(DATA, 0, sid, 1) + b"x")
    assert server.data_to_send() == encode_header(GO_AWAY, 0, 0, 1)


def test_oversized_frame_is_refused_at_its_header() -> None:
    server = Connection(client=False)
    with pytest.raises(ProtocolError, match="exceeds the window"):
        server.receive_data(encode_header(DATA, FLAG_SYN, 1, WINDOW + 1))
    assert server.buffered_input == 0


def test_send_window_overflow(pair: tuple[Connection, Connection]) -> None:
    client, _ = pair
    sid = established(pair)
    with pytest.raises(ProtocolError, match="overflows"):
        client.receive_data(encode_header(WU, 0, sid, 0xFFFF_FFFF))


def test_bigger_max_window_is_advertised_on_open() -> None:
    client = Connection(client=True, max_window=WINDOW * 4)
    client.open_stream()
    assert client.data_to_send() == encode_header(WU, FLAG_SYN, 1, WINDOW * 3)


def test_consumed_more_than_delivered_is_a_bug(pair: tuple[Connection, Connection]) -> None:
    _, server = pair
    sid = established(pair)
    with pytest.raises(ValueError, match="consumed"):
        server.consumed(sid, 1)


# --- pings and go-away -------------------------------------------------------------------


def test_ping_is_answered_with_the_same_opaque_value(pair: tuple[Connection, Connection]) -> None:
    client, server = pair
    client.ping(0xDEADBEEF)
    assert pump(client, server) == [PingReceived(0xDEADBEEF)]
    assert server.data_to_send() == encode_header(PING, FLAG_ACK, 0, 0xDEADBEEF)
    server.ping(7)
    server.data_to_send()
    assert client.receive_data(encode_header(PING, FLAG_ACK, 0, 7)) == [PingAcknowledged(7)]


def test_ping_flood_without_reading_is_capped() -> None:
    server = Connection(client=False)
    ping = encode_header(PING, FLAG_SYN, 0, 1)
    server.receive_data(ping * MAX_PENDING_REPLIES)
    with pytest.raises(ProtocolError, match="without reading"):
        server.receive_data(ping)


def test_remote_go_away_stops_new_streams_only(pair: tuple[Connection, Connection]) -> None:
    client, server = pair
    sid = established(pair)
    server.go_away()
    assert pump(server, client) == [GoAwayReceived(0)]
    with pytest.raises(ConnectionClosedError, match="not accepting"):
        client.open_stream()
    client.send_data(sid, b"still fine")
    assert pump(client, server) == [DataReceived(sid, b"still fine")]


def test_local_go_away_refuses_new_streams(pair: tuple[Connection, Connection]) -> None:
    client, server = pair
    server.go_away()
    server.data_to_send()
    client.open_stream()
    client.send_data(1, b"early data")
    assert pump(client, server) == []
    assert server.data_to_send() == encode_header(WU, FLAG_RST, 1, 0)


@pytest.mark.parametrize(("code", "message"), [(1, "protocol error"), (2, "internal error")])
def test_go_away_with_error_ends_the_session(code: int, message: str) -> None:
    client = Connection(client=True)
    with pytest.raises(ConnectionClosedError, match=message):
        client.receive_data(encode_header(GO_AWAY, 0, 0, code))
    assert client.data_to_send() == b""  # no go-away in answer to a go-away
    with pytest.raises(ConnectionClosedError):
        client.open_stream()


def test_accept_backlog_refuses_with_rst() -> None:
    server = Connection(client=False, accept_backlog=2)
    syns = b"".join(encode_header(WU, FLAG_SYN, sid, 0) for sid in (1, 3, 5))
    assert server.receive_data(syns) == [StreamOpened(1), StreamOpened(3)]
    assert server.data_to_send() == encode_header(WU, FLAG_RST, 5, 0)
    server.accept_stream(1)
    server.data_to_send()
    assert server.receive_data(encode_header(WU, FLAG_SYN, 7, 0)) == [StreamOpened(7)]


def test_opener_backlog() -> None:
    client = Connection(client=True, accept_backlog=2)
    client.open_stream()
    client.open_stream()
    assert not client.can_open_stream
    client.data_to_send()
    client.receive_data(encode_header(WU, FLAG_ACK, 1, 0))
    assert client.can_open_stream


# --- malformed input ---------------------------------------------------------------------

BAD_INPUT = {
    "version": (bytes([1]) + encode_header(PING, FLAG_SYN, 0, 0)[1:], "protocol version"),
    "type": (encode_header(4, 0, 0, 0), "message type"),
    "syn-own-parity": (encode_header(WU, FLAG_SYN, 2, 0), "may not use"),
    "syn-on-zero": (encode_header(WU, FLAG_SYN, 0, 0), "may not use"),
    "duplicate-syn": (encode_header(WU, FLAG_SYN, 1, 0) * 2, "duplicate"),
    "never-opened-peer-id": (encode_header(DATA, 0, 9, 1) + b"x", "never opened"),
    "never-opened-own-id": (encode_header(WU, 0, 8, 0), "never opened"),
    "stream-zero": (encode_header(DATA, 0, 0, 0), "never opened"),
    "data-after-fin": (
        encode_header(WU, FLAG_SYN | FLAG_FIN, 1, 0) + encode_header(DATA, 0, 1, 1) + b"x",
        "after its FIN",
    ),
    "fin-twice": (encode_header(WU, FLAG_SYN | FLAG_FIN, 1, 0) + encode_header(WU, FLAG_FIN, 1, 0),
                  "unexpected FIN"),
    "ping-on-stream": (encode_header(PING, FLAG_SYN, 1, 0), "ping on stream"),
    "go-away-on-stream": (encode_header(GO_AWAY, 0, 1, 0), "go-away on stream"),
    "go-away-code": (encode_header(GO_AWAY, 0, 0, 3), "unknown go-away"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_malformed_input_is_a_typed_error_and_kills_the_session(case: str) -> None:
    data, message = BAD_INPUT[case]
    server = Connection(client=False)
    with pytest.raises(ProtocolError, match=message):
        server.receive_data(data)
    assert server.closed
    assert server.data_to_send().endswith(encode_header(GO_AWAY, 0, 0, 1))
    with pytest.raises(ConnectionClosedError):
        server.receive_data(encode_header(PING, FLAG_SYN, 0, 0))
    with pytest.raises(ConnectionClosedError):
        server.open_stream()


def test_closed_connection_refuses_everything(pair: tuple[Connection, Connection]) -> None:
    client, _ = pair
    sid = established(pair)
    client.close(OSError("gone"))
    for action in (
        client.open_stream,
        lambda: client.send_data(sid, b"x"),
        lambda: client.ping(1),
        lambda: client.receive_data(b""),
    ):
        with pytest.raises(ConnectionClosedError):
            action()


# --- properties --------------------------------------------------------------------------


def _chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def _feed_checked(conn: Connection, chunks: list[bytes]) -> None:
    """Feed chunks; only ProtocolError may escape, and buffers stay within the window."""
    delivered: dict[int, int] = {}
    try:
        for chunk in chunks:
            for event in conn.receive_data(chunk):
                if isinstance(event, DataReceived):
                    delivered[event.stream_id] = delivered.get(event.stream_id, 0) + len(event.data)
            assert conn.buffered_input <= HEADER_SIZE + WINDOW
            assert all(n <= WINDOW for n in delivered.values())  # never consumed: no credit
            if len(conn.data_to_send()) > HEADER_SIZE * (MAX_PENDING_REPLIES + 1):
                raise AssertionError("unbounded output")
    except ProtocolError:
        assert conn.closed


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048), st.lists(st.integers(0, 4096), max_size=8), st.booleans())
def test_arbitrary_bytes_give_only_typed_errors(data: bytes, cuts: list[int], client: bool) -> None:
    _feed_checked(Connection(client=client), _chunked(data, cuts))


_frame = st.tuples(
    st.sampled_from([0, 0, 0, 0, 1]),  # mostly the right version
    st.integers(0, 4),
    st.integers(0, 15),
    st.integers(0, 8),
    st.one_of(st.integers(0, 64), st.sampled_from([WINDOW, WINDOW + 1, 0xFFFF_FFFF])),
).map(
    lambda f: (
        bytes([f[0]]) + encode_header(*f[1:])[1:] + (bytes(min(f[4], 100)) if f[1] == DATA else b"")
    )
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_frame, max_size=30), st.lists(st.integers(0, 4096), max_size=8), st.booleans())
def test_plausible_frames_give_only_typed_errors(
    frames_: list[bytes], cuts: list[int], client: bool
) -> None:
    _feed_checked(Connection(client=client), _chunked(b"".join(frames_), cuts))


@settings(max_examples=100)
@given(
    st.lists(st.binary(min_size=1, max_size=3000), max_size=6),
    st.lists(st.integers(0, 20000), max_size=10),
)
def test_encoded_stream_decodes_identically_in_any_chunking(
    messages: list[bytes], cuts: list[int]
) -> None:
    client, server = Connection(client=True), Connection(client=False)
    sid = client.open_stream()
    for message in messages:
        client.send_data(sid, message)
    client.close_stream(sid)
    received = bytearray()
    events: list[object] = []
    for chunk in _chunked(client.data_to_send(), cuts):
        for event in server.receive_data(chunk):
            events.append(event)
            if isinstance(event, DataReceived):
                received += event.data
    assert bytes(received) == b"".join(messages)
    assert events[0] == StreamOpened(sid) and events[-1] == StreamEnded(sid)
