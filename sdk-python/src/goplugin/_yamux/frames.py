"""yamux wire vocabulary: the 12-byte frame header, its constants, and the events the core emits.

Kept apart from the state machine (``connection.py``) so that tests, the Go interop program and
the IO layer can name frames and events without pulling in the session logic. Values are those
of hashicorp/yamux v0.1.2 (``const.go``, ``spec.md``), which go-plugin v1.8.0 uses with its
default configuration on both sides.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import NamedTuple

from ..errors import ProtocolError

__all__ = [
    "DEFAULT_ACCEPT_BACKLOG",
    "FLAG_ACK",
    "FLAG_FIN",
    "FLAG_RST",
    "FLAG_SYN",
    "GO_AWAY_INTERNAL_ERROR",
    "GO_AWAY_NORMAL",
    "GO_AWAY_PROTOCOL_ERROR",
    "HEADER",
    "HEADER_SIZE",
    "INITIAL_STREAM_WINDOW",
    "MAX_UINT32",
    "PROTO_VERSION",
    "DataReceived",
    "Event",
    "Frame",
    "FrameType",
    "GoAwayReceived",
    "Header",
    "PingAcknowledged",
    "PingReceived",
    "StreamEnded",
    "StreamEstablished",
    "StreamOpened",
    "StreamReset",
    "WindowUpdated",
    "decode_header",
    "encode_header",
    "split_frames",
]

PROTO_VERSION = 0
HEADER_SIZE = 12
#: Version u8, type u8, flags u16, stream id u32, length u32 -- all big-endian.
HEADER = struct.Struct(">BBHII")
MAX_UINT32 = 0xFFFF_FFFF


class FrameType(enum.IntEnum):
    """The four frame types; only DATA carries a payload (``length`` bytes after the header)."""

    DATA = 0
    WINDOW_UPDATE = 1
    PING = 2
    GO_AWAY = 3


FLAG_SYN = 0x1  # open a stream / ping request
FLAG_ACK = 0x2  # accept a stream / ping reply
FLAG_FIN = 0x4  # half-close: the sender will send no more data
FLAG_RST = 0x8  # abort the stream at once

GO_AWAY_NORMAL = 0
GO_AWAY_PROTOCOL_ERROR = 1
GO_AWAY_INTERNAL_ERROR = 2

#: Every stream starts with this window in both directions; yamux's default max is the same,
#: so a go-plugin peer never grants more than 256 KiB of credit per stream.
INITIAL_STREAM_WINDOW = 256 * 1024
#: yamux's default ``AcceptBacklog``: streams the peer may open that we have not accepted yet
#: (and, symmetrically, streams we may open that the peer has not acknowledged yet).
DEFAULT_ACCEPT_BACKLOG = 256


class Header(NamedTuple):
    """A decoded frame header; ``length`` means payload size, window delta, ping id or code."""

    version: int
    type: int
    flags: int
    stream_id: int
    length: int


def encode_header(frame_type: int, flags: int, stream_id: int, length: int) -> bytes:
    """Pack a header (version 0); values out of range are a bug of ours, hence ValueError."""
    try:
        return HEADER.pack(PROTO_VERSION, frame_type, flags, stream_id, length)
    except struct.error as exc:
        raise ValueError(f"yamux header field out of range: {exc}") from None


def decode_header(data: bytes | bytearray | memoryview, offset: int = 0) -> Header:
    """Unpack the raw fields of a header; semantic checks are the session's job."""
    if len(data) - offset < HEADER_SIZE:
        raise ProtocolError(f"truncated yamux header: {len(data) - offset} of {HEADER_SIZE} bytes")
    return Header(*HEADER.unpack_from(data, offset))


#: A split frame: type, flags, stream id, length field, payload (empty unless DATA).
Frame = tuple[int, int, int, int, bytes]


def split_frames(buf: bytes | bytearray | memoryview, max_payload: int) -> tuple[list[Frame], int]:
    """Cut whole frames off the front of ``buf``; return them and how many bytes they used.

    Checked here, before anything is buffered: the version, the type, and that a DATA payload
    fits ``max_payload`` (our window), so an incomplete frame never needs more than a header
    plus one window of memory.
    """
    frames: list[Frame] = []
    size = len(buf)
    pos = 0
    with memoryview(buf) as view:
        while size - pos >= HEADER_SIZE:
            version, ftype, flags, sid, length = HEADER.unpack_from(buf, pos)
            if version != PROTO_VERSION:
                raise ProtocolError(f"yamux: invalid protocol version {version}")
            if ftype == FrameType.DATA:
                if length > max_payload:
                    raise ProtocolError(
                        f"yamux: data frame of {length} bytes exceeds the window ({max_payload})"
                    )
                end = pos + HEADER_SIZE + length
                if end > size:
                    break  # wait for the rest of the payload
                frames.append((ftype, flags, sid, length, view[pos + HEADER_SIZE : end].tobytes()))
                pos = end
            elif ftype <= FrameType.GO_AWAY:
                frames.append((ftype, flags, sid, length, b""))
                pos += HEADER_SIZE
            else:
                raise ProtocolError(f"yamux: invalid message type {ftype}")
    return frames, pos


# --- events --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamOpened:
    """The peer opened ``stream_id`` (SYN); it is acknowledged when we accept or first send."""

    stream_id: int


@dataclass(frozen=True, slots=True)
class StreamEstablished:
    """The peer acknowledged (ACK) a stream we opened, freeing one slot of the open backlog."""

    stream_id: int


@dataclass(frozen=True, slots=True)
class DataReceived:
    """Payload for a stream; call ``consumed()`` once the application has taken it."""

    stream_id: int
    data: bytes


@dataclass(frozen=True, slots=True)
class StreamEnded:
    """The peer half-closed the stream (FIN): no more data will arrive on it."""

    stream_id: int


@dataclass(frozen=True, slots=True)
class StreamReset:
    """The peer aborted the stream (RST), or refused a stream we opened."""

    stream_id: int


@dataclass(frozen=True, slots=True)
class WindowUpdated:
    """The peer granted ``delta`` more bytes of send credit; queued data may have gone out."""

    stream_id: int
    delta: int


@dataclass(frozen=True, slots=True)
class PingReceived:
    """The peer pinged us; the reply (ACK echoing ``opaque``) is already queued."""

    opaque: int


@dataclass(frozen=True, slots=True)
class PingAcknowledged:
    """The peer answered one of our pings."""

    opaque: int


@dataclass(frozen=True, slots=True)
class GoAwayReceived:
    """The peer will accept no new streams (code 0); existing streams carry on."""

    code: int


Event = (
    StreamOpened
    | StreamEstablished
    | DataReceived
    | StreamEnded
    | StreamReset
    | WindowUpdated
    | PingReceived
    | PingAcknowledged
    | GoAwayReceived
)
