"""An HTTP/2 client peer for the pure engine's sans-IO core (goplugin._engines._h2) in unit
tests: frames out, frames in, and the flow-control windows the server grants, kept the way a
well-behaved client keeps them.
"""

from __future__ import annotations

import struct
from typing import Any

import hpack

from goplugin._engines._frames import PREFACE
from goplugin._engines._h2 import H2Server

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE = range(9)
CONTINUATION = 9


def frame(kind: int, flags: int, sid: int, payload: bytes = b"") -> bytes:
    n = len(payload)
    return struct.pack(">HBBBL", n >> 8, n & 0xFF, kind, flags, sid) + payload


def frames(data: bytes) -> list[tuple[int, int, int, bytes]]:
    out, pos = [], 0
    while pos < len(data):
        hi, lo, kind, flags, sid = struct.unpack_from(">HBBBL", data, pos)
        n = (hi << 8) | lo
        assert pos + 9 + n <= len(data), "a truncated frame in the server's output"
        out.append((kind, flags, sid, data[pos + 9 : pos + 9 + n]))
        pos += 9 + n
    return out


def grpc_message(payload: bytes) -> bytes:
    return b"\x00" + struct.pack(">L", len(payload)) + payload


REQUEST_HEADERS = [
    (":method", "POST"),
    (":scheme", "http"),
    (":authority", "localhost"),
    ("content-type", "application/grpc"),
    ("te", "trailers"),
]


class Peer:
    """A client of one :class:`H2Server`: what it sent, what it got, and its send windows."""

    def __init__(self, server: H2Server | None = None) -> None:
        self.server = server if server is not None else H2Server()
        self.encoder = hpack.Encoder()
        self.conn_window = 65535
        self.initial = 65535
        self.windows: dict[int, int] = {}
        self.received: list[tuple[int, int, int, bytes]] = []
        self.server.receive(PREFACE + frame(SETTINGS, 0, 0))
        self.read()

    def read(self) -> list[tuple[int, int, int, bytes]]:
        got = frames(self.server.take_output())
        for kind, flags, sid, payload in got:
            if kind == SETTINGS and not flags & 1:
                for pos in range(0, len(payload), 6):
                    key, value = struct.unpack_from(">HL", payload, pos)
                    if key == 4:
                        for stream in self.windows:
                            self.windows[stream] += value - self.initial
                        self.initial = value
            elif kind == WINDOW_UPDATE:
                increment = struct.unpack(">L", payload)[0]
                if sid == 0:
                    self.conn_window += increment
                elif sid in self.windows:
                    self.windows[sid] += increment
        self.received += got
        return got

    def open(self, sid: int, path: str, *, end: bool = False, **extra: str) -> None:
        block = self.encoder.encode([*REQUEST_HEADERS, (":path", path), *extra.items()])
        self.windows[sid] = self.initial
        self.server.receive(frame(HEADERS, 0x4 | (0x1 if end else 0), sid, block))
        self.read()

    def send(self, sid: int, data: bytes, *, end: bool = False, chunk: int = 16384) -> int:
        """Send as much of ``data`` as the windows allow; returns how much went out."""
        pos = 0
        self.read()  # window updates the server gave since
        while pos < len(data):
            room = min(chunk, self.windows[sid], self.conn_window, len(data) - pos)
            if room <= 0:
                break
            last = end and pos + room == len(data)
            self.server.receive(frame(DATA, 1 if last else 0, sid, data[pos : pos + room]))
            self.windows[sid] -= room
            self.conn_window -= room
            pos += room
            self.read()
        return pos

    def kinds(self, sid: int | None = None) -> list[int]:
        return [k for k, _, s, _ in self.received if sid is None or s == sid]

    def headers_of(self, sid: int) -> list[Any]:
        decoder = hpack.Decoder()
        out, block = [], b""
        for kind, flags, s, payload in self.received:
            if kind in (HEADERS, CONTINUATION):
                if s == sid:
                    block += payload
                if flags & 0x4:
                    decoded = decoder.decode(block) if s == sid else None
                    if decoded is not None:
                        out.append(decoded)
                    block = b""
        return out
