"""The pure engine's sans-IO HTTP/2 core (goplugin._engines._h2): bytes in, bytes out."""

from __future__ import annotations

import struct
from typing import Any

import hpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goplugin._engines._context import ServicerContext, status_int
from goplugin._engines._h2 import PREFACE, H2Error, H2Server, H2Stream
from goplugin._engines._hpack import status_block
from goplugin.errors import PluginError

DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = 0, 1, 3, 4, 6, 7, 8


def frame(kind: int, flags: int, sid: int, payload: bytes = b"") -> bytes:
    n = len(payload)
    return struct.pack(">HBBBL", n >> 8, n & 0xFF, kind, flags, sid) + payload


def frames(data: bytes) -> list[tuple[int, int, int, bytes]]:
    out, pos = [], 0
    while pos < len(data):
        hi, lo, kind, flags, sid = struct.unpack_from(">HBBBL", data, pos)
        n = (hi << 8) | lo
        out.append((kind, flags, sid, data[pos + 9 : pos + 9 + n]))
        pos += 9 + n
    return out


def grpc_message(payload: bytes) -> bytes:
    return b"\x00" + struct.pack(">L", len(payload)) + payload


def request(sid: int, path: str, body: bytes, encoder: Any) -> bytes:
    block = encoder.encode(
        [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", path),
            (":authority", "localhost"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
            ("grpc-timeout", "5S"),
        ]
    )
    return frame(HEADERS, 0x4, sid, block) + frame(DATA, 0x1, sid, grpc_message(body))


class Recorder:
    def __init__(self, server: H2Server) -> None:
        self.events: list[tuple[str, int, Any]] = []
        server.on_request = lambda s: self._add("request", s, dict(s.headers)[":path"])
        server.on_message = lambda s, data: self.events.append(("message", s.id, data))
        server.on_end = lambda s: self._add("end", s, None)
        server.on_reset = lambda s: self._add("reset", s, None)

    def _add(self, kind: str, s: H2Stream, detail: Any) -> None:
        s.call = True
        self.events.append((kind, s.id, detail))


def connected() -> tuple[H2Server, Recorder]:
    server = H2Server()
    recorder = Recorder(server)
    server.receive(PREFACE + frame(SETTINGS, 0, 0))
    kinds = [(k, f) for k, f, _, _ in frames(server.take_output())]
    # Our SETTINGS and connection window first, then the ack of theirs.
    assert kinds == [(SETTINGS, 0), (WINDOW_UPDATE, 0), (SETTINGS, 1)]
    return server, recorder


def headers(decoder: hpack.Decoder, block: bytes) -> list[tuple[str, str]]:
    """A decoded header block as plain (name, value) pairs (hpack types them loosely)."""
    return [(str(name), str(value)) for name, value in decoder.decode(block)]


def test_a_unary_call_in_and_its_answer_out_in_one_write() -> None:
    server, rec = connected()
    server.receive(request(1, "/proto.KV/Get", b"hello", hpack.Encoder()))
    assert rec.events == [
        ("request", 1, "/proto.KV/Get"),
        ("message", 1, b"hello"),
        ("end", 1, None),
    ]
    st = server.streams[1]
    server.send_headers(st)
    server.send_message(st, b"world")
    server.send_trailers(st, status_block(0, None))
    out = frames(server.take_output())
    assert [(k, f, s) for k, f, s, _ in out] == [(HEADERS, 0x4, 1), (DATA, 0, 1), (HEADERS, 0x5, 1)]
    assert out[1][3] == grpc_message(b"world")
    decoded = hpack.Decoder()
    assert headers(decoded, out[0][3]) == [
        (":status", "200"),
        ("content-type", "application/grpc"),
    ]
    assert headers(decoded, out[2][3]) == [("grpc-status", "0")]
    assert 1 not in server.streams


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=400), max_size=12))
def test_any_split_of_the_input_gives_the_same_events(cuts: list[int]) -> None:
    encoder = hpack.Encoder()
    body = bytes(range(200)) * 3
    data = PREFACE + frame(SETTINGS, 0, 0) + request(1, "/a/B", body, encoder)
    data += request(3, "/a/C", b"", encoder)
    server = H2Server()
    rec = Recorder(server)
    pos = 0
    for cut in [*sorted(cuts), len(data)]:
        server.receive(data[pos : max(pos, cut)])
        pos = max(pos, cut)
    server.receive(data[pos:])
    assert rec.events == [
        ("request", 1, "/a/B"),
        ("message", 1, body),
        ("end", 1, None),
        ("request", 3, "/a/C"),
        ("message", 3, b""),
        ("end", 3, None),
    ]


def test_a_message_spread_over_many_frames_is_put_back_together() -> None:
    server, rec = connected()
    block = hpack.Encoder().encode([(":method", "POST"), (":path", "/a/Big")])
    message = grpc_message(bytes(range(256)) * 4096)  # 1 MiB
    data = frame(HEADERS, 0x4, 1, block)
    for pos in range(0, len(message), 16384):
        data += frame(DATA, 0, 1, message[pos : pos + 16384])
    data += frame(DATA, 0x1, 1)
    server.receive(data)
    assert [e[0] for e in rec.events] == ["request", "message", "end"]
    assert rec.events[1][2] == message[5:]
    # What the peer sent is given back as connection window, in updates, not frame by frame.
    updates = [f for f in frames(server.take_output()) if f[0] == WINDOW_UPDATE]
    assert len(updates) < 5


def test_flow_control_holds_data_and_trailers_until_the_peer_opens_its_window() -> None:
    server, _ = connected()
    # The peer allows 10 bytes per stream.
    server.receive(frame(SETTINGS, 0, 0, struct.pack(">HL", 4, 10)))
    server.take_output()
    server.receive(request(1, "/a/B", b"x", hpack.Encoder()))
    st = server.streams[1]
    server.send_headers(st)
    server.send_message(st, b"0123456789abcdef")  # 21 bytes with its prefix
    server.send_trailers(st, status_block(0, None))
    out = frames(server.take_output())
    assert [(k, len(p)) for k, _, _, p in out] == [(HEADERS, len(out[0][3])), (DATA, 10)]
    server.receive(frame(WINDOW_UPDATE, 0, 1, struct.pack(">L", 100)))
    out += frames(server.take_output())
    data = b"".join(p for k, _, _, p in out if k == DATA)
    assert data == grpc_message(b"0123456789abcdef")
    assert out[-1][:3] == (HEADERS, 0x5, 1)  # the trailers came last


def test_ping_is_answered_and_reset_reaches_the_call() -> None:
    server, rec = connected()
    server.receive(frame(PING, 0, 0, b"12345678"))
    assert frames(server.take_output()) == [(PING, 1, 0, b"12345678")]
    block = hpack.Encoder().encode([(":method", "POST"), (":path", "/a/S")])
    server.receive(frame(HEADERS, 0x4, 1, block) + frame(RST_STREAM, 0, 1, b"\x00\x00\x00\x08"))
    assert rec.events[-1] == ("reset", 1, None)
    assert 1 not in server.streams


@pytest.mark.parametrize(
    "junk",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        PREFACE[:10] + b"garbage" * 5,
        PREFACE + frame(DATA, 0, 5, b"data on a stream nobody opened"),
        PREFACE + frame(PING, 0, 0, b"short"),
        PREFACE + frame(HEADERS, 0x4, 1, b"\xff\xff\xff\xff"),  # not HPACK
    ],
)
def test_junk_is_a_connection_error_not_a_crash(junk: bytes) -> None:
    with pytest.raises(H2Error):
        H2Server().receive(junk)


def test_an_error_before_any_answer_is_a_trailers_only_response() -> None:
    server, _ = connected()
    server.receive(request(1, "/a/B", b"", hpack.Encoder()))
    st = server.streams[1]
    server.send_trailers(st, status_block(12, "Method not found! 100% sure ünïcode"))
    (kind, flags, sid, block), *_ = frames(server.take_output())
    assert (kind, flags, sid) == (HEADERS, 0x5, 1)
    assert headers(hpack.Decoder(), block) == [
        (":status", "200"),
        ("content-type", "application/grpc"),
        ("grpc-status", "12"),
        ("grpc-message", "Method not found! 100%25 sure %C3%BCn%C3%AFcode"),
    ]


def test_status_codes_come_from_grpc_or_ints() -> None:
    import grpc

    assert status_int(grpc.StatusCode.NOT_FOUND) == 5
    assert status_int(13) == 13


def test_unsupported_context_calls_say_which_engine_has_them() -> None:
    context = ServicerContext(None)  # type: ignore[arg-type]
    with pytest.raises(PluginError, match="engine='grpcio'"):
        context.auth_context()


def test_async_handlers_are_told_from_plain_ones_without_inspect() -> None:
    import functools

    from goplugin._engines._server import _is_async

    class Servicer:
        async def unary(self, request: object, context: object) -> None:
            pass

        async def stream(self, request: object, context: object) -> Any:
            yield request

        def plain(self, request: object, context: object) -> None:
            pass

    class CallableObject:
        async def __call__(self, request: object, context: object) -> None:
            pass

    s = Servicer()
    assert _is_async(s.unary) and _is_async(s.stream) and not _is_async(s.plain)
    assert _is_async(functools.partial(s.unary, 1)) and _is_async(CallableObject())
    assert not _is_async(functools.partial(s.plain, 1))


def test_a_compressed_message_fails_its_call_not_the_connection() -> None:
    server, rec = connected()
    block = hpack.Encoder().encode([(":method", "POST"), (":path", "/a/B")])
    squeezed = b"\x01" + struct.pack(">L", 3) + b"abc"
    server.receive(frame(HEADERS, 0x4, 1, block) + frame(DATA, 0x1, 1, squeezed))
    (kind, flags, sid, trailers), *_ = frames(server.take_output())
    assert (kind, flags, sid) == (HEADERS, 0x5, 1)
    assert ("grpc-status", "12") in headers(hpack.Decoder(), trailers)
    assert rec.events[-1] == ("reset", 1, None)  # the handler, if running, is cancelled
    server.receive(request(3, "/a/C", b"ok", hpack.Encoder()))
    assert rec.events[-1] == ("end", 3, None)
