"""HTTP/2 wire constants and frame encoding shared by the pure engine's sans-IO core (RFC 9113).

What a gRPC server receives and how much of it it holds is decided here too, in one place:
the windows it grants, the frame and header sizes it accepts, how many streams a peer may open.
"""

from __future__ import annotations

import struct

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE = range(9)
CONTINUATION = 9
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20

NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR = 0, 1, 2, 3
STREAM_CLOSED, FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL, COMPRESSION_ERROR = 5, 6, 7, 8, 9

FRAME = struct.Struct(">HBBBL")  # length (24 bits as 16 + 8), type, flags, stream id
SETTING = struct.Struct(">HL")
U32 = struct.Struct(">L")

MAX_WINDOW = 0x7FFFFFFF
#: What one stream may have in flight to us (SETTINGS_INITIAL_WINDOW_SIZE). Credit comes back
#: as the handler consumes messages, so this is what a slow handler's stream can hold unread.
STREAM_WINDOW = 4 << 20
#: The connection's window: what all streams together may have in flight to us.
CONN_WINDOW = 16 << 20
#: Bytes held unread on a connection (over all its streams) for which window is still granted
#: as they arrive, so that one stream whose handler reads slowly never stalls the others. Past
#: it, connection window comes back only as handlers consume: at most HOLD_CAP + CONN_WINDOW
#: (plus one message a waiting handler needs whole) is ever held per connection.
HOLD_CAP = 16 << 20
#: The largest frame we accept (SETTINGS_MAX_FRAME_SIZE); the peer's own starts at 16384.
MAX_FRAME = 1 << 20
#: A request's decoded header list (SETTINGS_MAX_HEADER_LIST_SIZE) and its encoded block.
MAX_HEADER_LIST = 1 << 20
#: Streams a peer may have open at once without a limit of the server's (_server passes one
#: above its call capacity: calls past capacity are refused with RESOURCE_EXHAUSTED, streams
#: past this with REFUSED_STREAM, which a well-behaved client never meets).
MAX_STREAMS = 1024


def frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    n = len(payload)
    return FRAME.pack(n >> 8, n & 0xFF, kind, flags, stream_id) + payload


def header_frames(stream_id: int, flags: int, block: bytes, max_frame: int) -> list[bytes]:
    """A header block as HEADERS (+ CONTINUATION frames when it exceeds the peer's frame
    size: big metadata or a long grpc-message must not break the peer's connection)."""
    if len(block) <= max_frame:
        return [frame(HEADERS, flags | END_HEADERS, stream_id, block)]
    out = [frame(HEADERS, flags, stream_id, block[:max_frame])]
    pos = max_frame
    while pos < len(block):
        end = pos + max_frame
        last = end >= len(block)
        out.append(frame(CONTINUATION, END_HEADERS if last else 0, stream_id, block[pos:end]))
        pos = end
    return out


def settings_frame(max_streams: int) -> bytes:
    return frame(
        SETTINGS,
        0,
        0,
        SETTING.pack(0x3, max_streams)  # MAX_CONCURRENT_STREAMS
        + SETTING.pack(0x4, STREAM_WINDOW)  # INITIAL_WINDOW_SIZE
        + SETTING.pack(0x5, MAX_FRAME)  # MAX_FRAME_SIZE
        + SETTING.pack(0x6, MAX_HEADER_LIST),  # MAX_HEADER_LIST_SIZE
    )


CONN_WINDOW_UPDATE = frame(WINDOW_UPDATE, 0, 0, U32.pack(CONN_WINDOW - 65535))
SETTINGS_ACK = frame(SETTINGS, ACK, 0)
