"""Fuzzing the pure engine's HTTP/2 core: whatever a peer sends, the core answers with protocol
errors (H2Error for GOAWAY, RST_STREAM with RFC 9113's codes) and nothing else, its output is
well-formed frames, and what it keeps per connection stays bounded and consistent.

Inputs: arbitrary frame sequences built around the edges (bad lengths, unknown types and
flags, CONTINUATION abuse, SETTINGS/PING/WINDOW_UPDATE edge values, RST floods, stream-id
reuse, DATA on closed streams, HPACK garbage, oversized headers), and mutations (flipped,
dropped, inserted bytes) of a valid conversation. The edge cases RFC 9113 names are checked one
by one as well, each for its error code.
"""

from __future__ import annotations

import struct
from typing import Any

import hpack
import pytest
from h2peer import (
    CONTINUATION,
    DATA,
    GOAWAY,
    HEADERS,
    PING,
    PRIORITY,
    PUSH_PROMISE,
    REQUEST_HEADERS,
    RST_STREAM,
    SETTINGS,
    WINDOW_UPDATE,
    frame,
    frames,
    grpc_message,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goplugin._engines._frames import MAX_FRAME, MAX_STREAMS, PREFACE
from goplugin._engines._h2 import _CLOSED_EARLY, H2Error, H2Server, H2Stream
from goplugin._engines._hpack import status_block

ERROR_CODES = set(range(14))
EDGES = [0, 1, 5, 8, 2**14 - 1, 2**14, 2**16 - 1, 2**24 - 1, 2**24, 2**31 - 1, 2**31, 2**32 - 1]
SIDS = [0, 1, 2, 3, 5, 7, 9, 0x7FFFFFFF, 0xFFFFFFFF]


def _request_block(path: str, extra: list[tuple[str, str]], huffman: bool) -> bytes:
    encoder = hpack.Encoder()  # a fresh one: it never refers to the server's dynamic table
    return encoder.encode([*REQUEST_HEADERS, (":path", path), *extra], huffman=huffman)


u32 = st.sampled_from(EDGES) | st.integers(0, 2**32 - 1)
headers_payload = st.builds(
    _request_block,
    st.sampled_from(["/s/Get", "/s/Stream", "", "/" + "x" * 5000]),
    st.lists(st.tuples(st.sampled_from(["x-a", "x-b-bin", "grpc-timeout", "te"]), st.text())).map(
        lambda pairs: [(k, v) for k, v in pairs]
    ),
    st.booleans(),
)
payloads: dict[int, Any] = {
    DATA: st.one_of(
        st.binary(max_size=80),
        st.binary(max_size=300).map(grpc_message),
        st.tuples(u32, st.binary(max_size=20)).map(
            lambda t: b"\x00" + struct.pack(">L", t[0]) + t[1]
        ),
        st.tuples(st.integers(0, 255), st.binary(max_size=40)).map(lambda t: bytes([t[0]]) + t[1]),
    ),
    HEADERS: st.one_of(headers_payload, st.binary(max_size=60)),
    PRIORITY: st.binary(min_size=4, max_size=6) | u32.map(lambda v: struct.pack(">LB", v, 16)),
    RST_STREAM: st.one_of(u32.map(struct.Struct(">L").pack), st.binary(max_size=6)),
    SETTINGS: st.one_of(
        st.lists(st.tuples(st.integers(0, 9), u32), max_size=4).map(
            lambda items: b"".join(struct.pack(">HL", k, v) for k, v in items)
        ),
        st.binary(max_size=13),
    ),
    PUSH_PROMISE: st.binary(max_size=12),
    PING: st.binary(min_size=0, max_size=10),
    GOAWAY: st.binary(min_size=0, max_size=12),
    WINDOW_UPDATE: st.one_of(u32.map(struct.Struct(">L").pack), st.binary(max_size=6)),
    CONTINUATION: st.one_of(headers_payload, st.binary(max_size=40)),
}


ODD = st.sampled_from([1, 3, 5, 7, 9, 11])
valid_frames = st.one_of(
    st.builds(
        lambda sid, end, b: frame(HEADERS, 0x4 | end, sid, b),
        ODD,
        st.sampled_from([0, 1]),
        headers_payload,
    ),
    st.builds(
        lambda sid, end, messages: frame(DATA, end, sid, b"".join(map(grpc_message, messages))),
        ODD,
        st.sampled_from([0, 1]),
        st.lists(st.binary(max_size=200), max_size=3),
    ),
    st.builds(
        lambda sid, pad, body: frame(DATA, 0x8, sid, bytes([pad]) + body + b"\0" * pad),
        ODD,
        st.integers(0, 20),
        st.binary(max_size=50),
    ),
    st.builds(
        lambda sid, block, cut: (
            frame(HEADERS, 0, sid, block[:cut]) + frame(CONTINUATION, 0x4, sid, block[cut:])
        ),
        ODD,
        headers_payload,
        st.integers(0, 50),
    ),
    st.builds(
        lambda sid, n: frame(WINDOW_UPDATE, 0, sid, struct.pack(">L", n)),
        st.sampled_from([0, 1, 3]),
        st.integers(1, 2**20),
    ),
    st.builds(
        lambda k, v: frame(SETTINGS, 0, 0, struct.pack(">HL", k, v)),
        st.sampled_from([1, 3, 4, 6]),
        st.integers(0, 2**20),
    ),
    st.just(frame(PING, 0, 0, b"pingpong")),
    st.builds(
        lambda sid, code: frame(RST_STREAM, 0, sid, struct.pack(">L", code)),
        ODD,
        st.integers(0, 13),
    ),
    st.builds(lambda sid: frame(PRIORITY, 0, sid, struct.pack(">LB", 0, 16)), ODD),
)


@st.composite
def frame_bytes(draw: Any) -> bytes:
    if draw(st.integers(0, 9)) < 8:
        valid: bytes = draw(valid_frames)
        return valid
    kind = draw(st.sampled_from([*payloads, 10, 0x7F, 0xFF]))
    flags = draw(st.sampled_from([0, 0x1, 0x4, 0x5, 0x8, 0x20, 0x2D, 0xFF]))
    sid = draw(st.sampled_from(SIDS))
    payload: bytes = draw(payloads.get(kind, st.binary(max_size=20)))
    if draw(st.integers(0, 30)) == 0:  # a header claiming more than is there (or allowed)
        n = draw(st.sampled_from([len(payload) + 1, MAX_FRAME + 1, 2**24 - 1]))
        return struct.pack(">HBBBL", n >> 8, n & 0xFF, kind, flags, sid) + payload
    return frame(kind, flags, sid, payload)


def _conversation() -> bytes:
    """A valid exchange: settings, ping, a unary call, a stream with several messages."""
    encoder = hpack.Encoder()
    return (
        PREFACE
        + frame(SETTINGS, 0, 0, struct.pack(">HL", 4, 1 << 20))
        + frame(PING, 0, 0, b"12345678")
        + frame(HEADERS, 0x4, 1, encoder.encode([*REQUEST_HEADERS, (":path", "/s/Get")]))
        + frame(DATA, 0x1, 1, grpc_message(b"hello"))
        + frame(HEADERS, 0x4, 3, encoder.encode([*REQUEST_HEADERS, (":path", "/s/Stream")]))
        + frame(DATA, 0, 3, grpc_message(b"a" * 100) + grpc_message(b"b" * 3)[:4])
        + frame(DATA, 0, 3, grpc_message(b"b" * 3)[4:])
        + frame(WINDOW_UPDATE, 0, 3, struct.pack(">L", 1000))
        + frame(RST_STREAM, 0, 3, struct.pack(">L", 8))
        + frame(DATA, 0x1, 3, grpc_message(b"late"))
    )


class Driver:
    """What the asyncio driver does with the core, minus the IO: handlers that read some of
    their messages and answer, output taken after every read."""

    def __init__(self) -> None:
        self.server = H2Server()
        self.inbox: dict[int, list[bytes]] = {}
        self.server.on_request = self._request
        self.server.on_message = lambda s, data: self.inbox[s.id].append(data)
        self.server.on_end = self._answer
        self.server.on_reset = self._forget
        self.error: H2Error | None = None
        self.output: list[tuple[int, int, int, bytes]] = []

    def _request(self, s: H2Stream) -> None:
        s.call = True
        s.autoack = s.id % 4 == 1  # some unary, some request streams
        self.inbox[s.id] = []
        if len(s.headers) > 20:
            self.server.send_trailers(s, status_block(12, "no such method"))

    def _forget(self, s: H2Stream) -> None:
        self.inbox.pop(s.id, None)

    def failed(self) -> H2Error | None:
        """The server's error so far (a call, so that mypy does not keep an earlier narrowing)."""
        return self.error

    def _answer(self, s: H2Stream) -> None:
        if s.id in self.server.streams and not s.ended_local:
            self.server.send_headers(s)
            self.server.send_message(s, b"answer" * 10)
            self.server.send_trailers(s, status_block(0, None))

    def feed(self, data: bytes) -> None:
        if self.error is not None:
            return
        try:
            self.server.receive(data)
        except H2Error as exc:
            self.error = exc
            self.server.go_away(exc.code)  # what the driver does: GOAWAY, then close
        for sid, messages in list(self.inbox.items()):
            s = self.server.streams.get(sid)
            if s is not None and not s.autoack and messages:
                half = len(messages) // 2 + 1
                taken, self.inbox[sid] = messages[:half], messages[half:]
                for message in taken:
                    self.server.consumed(s, len(message) + 5)
        self.output += frames(self.server.take_output())

    def check(self) -> None:
        server = self.server
        if self.error is not None:
            assert self.error.code in ERROR_CODES and self.error.code != 0
            kind, _, sid, payload = self.output[-1]
            assert (kind, sid) == (GOAWAY, 0)
            assert struct.unpack_from(">L", payload, 4)[0] == self.error.code
        for kind, _, sid, payload in self.output:
            if kind == RST_STREAM:
                assert sid and len(payload) == 4
                assert struct.unpack(">L", payload)[0] in ERROR_CODES
            assert kind in (
                HEADERS,
                CONTINUATION,
                DATA,
                SETTINGS,
                PING,
                RST_STREAM,
                WINDOW_UPDATE,
                GOAWAY,
            )
        # Bounded, and the accounting of what is held adds up.
        assert len(server.streams) <= server.max_streams
        assert len(server._closed_early) <= _CLOSED_EARLY
        assert len(server._inbuf) < 9 + MAX_FRAME
        assert all(s.held >= len(s.buf) >= 0 for s in server.streams.values())
        assert server._recv_window >= 0


@pytest.mark.timeout(60)  # a hang in the core fails here, not at the suite's 300 s
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(frame_bytes(), max_size=30),
    st.lists(st.integers(1, 200), max_size=6),
    st.booleans(),
)
def test_arbitrary_frames_only_ever_give_protocol_errors(
    sequence: list[bytes], cuts: list[int], with_conversation: bool
) -> None:
    driver = Driver()
    data = (_conversation() if with_conversation else PREFACE) + b"".join(sequence)
    pos = 0
    for cut in sorted(cuts):
        driver.feed(data[pos : max(pos, cut)])
        pos = max(pos, cut)
    driver.feed(data[pos:])
    driver.check()


@pytest.mark.timeout(60)
@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["flip", "drop", "insert"]),
            st.integers(0, 2000),
            st.binary(min_size=1, max_size=8),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_a_mutated_conversation_only_ever_gives_protocol_errors(
    mutations: list[tuple[str, int, bytes]],
) -> None:
    data = bytearray(_conversation())
    for op, where, what in mutations:
        where %= len(data)
        if op == "flip":
            data[where] ^= what[0] or 1
        elif op == "drop":
            del data[where : where + len(what)]
        else:
            data[where:where] = what
    driver = Driver()
    driver.feed(bytes(data))
    driver.check()


@pytest.mark.timeout(60)
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.booleans(), st.lists(st.integers(1, 400), max_size=4))
def test_any_bytes_only_ever_give_progress_or_a_connection_error(
    data: bytes, after_preface: bool, cuts: list[int]
) -> None:
    """Not even frames: bytes as they come, split anywhere (before the preface too)."""
    driver = Driver()
    data = (PREFACE + data) if after_preface else data
    pos = 0
    for cut in sorted(cuts):
        driver.feed(data[pos : max(pos, cut)])
        pos = max(pos, cut)
    driver.feed(data[pos:])
    driver.check()


def _open(driver: Driver, sid: int, path: str = "/s/Stream", flags: int = 0x4) -> None:
    driver.feed(frame(HEADERS, flags, sid, _request_block(path, [], False)))


def test_floods_leave_nothing_behind() -> None:
    """Rapid reset, PING, SETTINGS, empty CONTINUATION and DATA-on-closed floods: the core
    keeps no state per frame (its output is the driver's to write, and it stops reading
    while that does not drain)."""
    driver = Driver()
    driver.feed(PREFACE + frame(SETTINGS, 0, 0))
    for i in range(20000):
        sid = 2 * i + 1
        _open(driver, sid)
        driver.feed(frame(RST_STREAM, 0, sid, struct.pack(">L", 8)))
        driver.feed(frame(DATA, 0, sid, grpc_message(b"x")))
        driver.feed(frame(PING, 0, 0, b"pingpong") + frame(SETTINGS, 0, 0))
        driver.output.clear()
    assert driver.error is None
    driver.check()
    assert not driver.server.streams and driver.server.held == 0
    # Headers that never end: bounded by the header block limit.
    driver.feed(frame(HEADERS, 0, 40001, b""))
    for _ in range(20000):
        driver.feed(frame(CONTINUATION, 0, 40001, b"\x00" * 64))
        if driver.failed() is not None:
            break
    error = driver.failed()
    assert error is not None and error.code == 1


def test_streams_past_the_limit_are_refused() -> None:
    driver = Driver()
    driver.feed(PREFACE + frame(SETTINGS, 0, 0))
    for i in range(MAX_STREAMS + 10):
        _open(driver, 2 * i + 1)
    refused = [sid for kind, _, sid, p in driver.output if kind == RST_STREAM and p == b"\0\0\0\7"]
    assert len(refused) == 10 and len(driver.server.streams) == MAX_STREAMS


# RFC 9113's named cases: (what the peer sends after the preface and SETTINGS, the error).
# A connection error is ("goaway", code); a stream error ("rst", code).
def _cases() -> list[tuple[str, bytes, tuple[str, int]]]:
    hb = _request_block("/s/Stream", [], False)
    u = struct.Struct(">L").pack
    return [
        ("DATA on stream 0", frame(DATA, 0, 0, b"x"), ("goaway", 1)),
        ("DATA on an idle stream", frame(DATA, 0, 5, b"x"), ("goaway", 1)),
        ("HEADERS on stream 0", frame(HEADERS, 0x4, 0, hb), ("goaway", 1)),
        ("even stream id", frame(HEADERS, 0x4, 2, hb), ("goaway", 1)),
        ("bad HPACK", frame(HEADERS, 0x4, 1, b"\xff\xff\xff\xff"), ("goaway", 9)),
        ("padding too long", frame(HEADERS, 0xC, 1, b"\xff" + hb), ("goaway", 1)),
        ("self-dependent HEADERS", frame(HEADERS, 0x24, 1, u(1) + b"\x10" + hb), ("rst", 1)),
        ("self-dependent PRIORITY", frame(PRIORITY, 0, 1, u(1) + b"\x10"), ("rst", 1)),
        ("PRIORITY of 4 bytes", frame(PRIORITY, 0, 1, u(3)), ("rst", 6)),
        ("PRIORITY on stream 0", frame(PRIORITY, 0, 0, u(3) + b"\x10"), ("goaway", 1)),
        ("RST_STREAM on stream 0", frame(RST_STREAM, 0, 0, u(8)), ("goaway", 1)),
        ("RST_STREAM on an idle stream", frame(RST_STREAM, 0, 1, u(8)), ("goaway", 1)),
        ("RST_STREAM of 3 bytes", frame(RST_STREAM, 0, 1, b"\0\0\0"), ("goaway", 6)),
        ("SETTINGS ACK with payload", frame(SETTINGS, 1, 0, b"\0" * 6), ("goaway", 6)),
        ("SETTINGS on a stream", frame(SETTINGS, 0, 1), ("goaway", 1)),
        ("SETTINGS of 5 bytes", frame(SETTINGS, 0, 0, b"\0" * 5), ("goaway", 6)),
        ("ENABLE_PUSH 2", frame(SETTINGS, 0, 0, struct.pack(">HL", 2, 2)), ("goaway", 1)),
        ("window 2^31", frame(SETTINGS, 0, 0, struct.pack(">HL", 4, 2**31)), ("goaway", 3)),
        ("frame size 16383", frame(SETTINGS, 0, 0, struct.pack(">HL", 5, 16383)), ("goaway", 1)),
        ("frame size 2^24", frame(SETTINGS, 0, 0, struct.pack(">HL", 5, 2**24)), ("goaway", 1)),
        ("PING on a stream", frame(PING, 0, 1, b"\0" * 8), ("goaway", 1)),
        ("PING of 7 bytes", frame(PING, 0, 0, b"\0" * 7), ("goaway", 6)),
        ("GOAWAY on a stream", frame(GOAWAY, 0, 1, u(0) + u(0)), ("goaway", 1)),
        ("WINDOW_UPDATE of 0", frame(WINDOW_UPDATE, 0, 0, u(0)), ("goaway", 1)),
        ("WINDOW_UPDATE idle", frame(WINDOW_UPDATE, 0, 1, u(1)), ("goaway", 1)),
        ("WINDOW_UPDATE of 3 bytes", frame(WINDOW_UPDATE, 0, 0, b"\0\0\1"), ("goaway", 6)),
        ("window overflow", frame(WINDOW_UPDATE, 0, 0, u(2**31 - 1)), ("goaway", 3)),
        ("CONTINUATION alone", frame(CONTINUATION, 0x4, 1, hb), ("goaway", 1)),
        ("PUSH_PROMISE", frame(PUSH_PROMISE, 0x4, 1, u(2) + hb), ("goaway", 1)),
        ("frame too large", struct.pack(">HBBBL", 0x1000, 1, 0, 0, 1), ("goaway", 6)),
        (
            "HEADERS interrupted",
            frame(HEADERS, 0, 1, hb) + frame(PING, 0, 0, b"\0" * 8),
            ("goaway", 1),
        ),
        (
            "stream WINDOW_UPDATE of 0",
            frame(HEADERS, 0x4, 1, hb) + frame(WINDOW_UPDATE, 0, 1, u(0)),
            ("rst", 1),
        ),
        (
            "stream window overflow",
            frame(HEADERS, 0x4, 1, hb) + frame(WINDOW_UPDATE, 0, 1, u(2**31 - 1)),
            ("rst", 3),
        ),
        (
            "DATA after END_STREAM",
            frame(HEADERS, 0x5, 1, hb) + frame(DATA, 0, 1, b"x"),
            ("rst", 5),
        ),
        (
            "trailers without END_STREAM",
            frame(HEADERS, 0x4, 1, hb) + frame(HEADERS, 0x4, 1, _request_block("/x", [], False)),
            ("rst", 1),
        ),
        (
            "DATA padding too long",
            frame(HEADERS, 0x4, 1, hb) + frame(DATA, 0x8, 1, b"\x09" + b"x" * 8),
            ("goaway", 1),
        ),
    ]


@pytest.mark.parametrize(
    ("sent", "expected"), [c[1:] for c in _cases()], ids=[c[0] for c in _cases()]
)
def test_rfc_9113_errors_get_their_codes(sent: bytes, expected: tuple[str, int]) -> None:
    driver = Driver()
    driver.feed(PREFACE + frame(SETTINGS, 0, 0))
    driver.output.clear()
    driver.feed(sent)
    kind, code = expected
    if kind == "goaway":
        assert driver.error is not None, driver.output
        assert driver.error.code == code, driver.error
    else:
        assert driver.error is None, driver.error
        resets = [struct.unpack(">L", p)[0] for k, _, _, p in driver.output if k == RST_STREAM]
        assert resets == [code], driver.output
