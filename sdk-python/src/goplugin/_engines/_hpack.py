"""Header blocks for the pure engine: our few response headers encoded by hand, the client's
decoded by the ``hpack`` package.

A gRPC server answers with the same handful of headers every call, so they are literals
"without indexing" built once (no dynamic table to keep in step with the peer, no Huffman
coding). Requests are the peer's choice, Huffman and dynamic table included, so they go
through a real decoder.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "OK_TRAILERS",
    "RESPONSE_HEADERS",
    "HeaderDecoder",
    "encode_literals",
    "status_block",
]


def _int(value: int, prefix_bits: int, first: int) -> bytes:
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((first | value,))
    out = bytearray((first | limit,))
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _string(data: bytes) -> bytes:
    return _int(len(data), 7, 0) + data


def encode_literals(headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    """Literal header fields without indexing, new names (RFC 7541 6.2.2)."""
    return b"".join(b"\x00" + _string(name) + _string(value) for name, value in headers)


# ":status: 200" is static entry 8; content-type is static name 31.
RESPONSE_HEADERS = b"\x88" + _int(31, 4, 0) + _string(b"application/grpc")
OK_TRAILERS = encode_literals([(b"grpc-status", b"0")])

_UNRESERVED = frozenset(range(0x20, 0x7F)) - {ord("%")}


def _percent_encode(message: str) -> bytes:
    """grpc-message is percent-encoded UTF-8 (the gRPC over HTTP/2 spec)."""
    raw = message.encode("utf-8", "replace")
    if all(b in _UNRESERVED for b in raw):
        return raw
    return b"".join(bytes((b,)) if b in _UNRESERVED else b"%%%02X" % b for b in raw)


def status_block(code: int, message: str | None, trailing: bytes = b"") -> bytes:
    """The trailers of a finished call: grpc-status, grpc-message and user metadata."""
    if code == 0 and not message:
        return OK_TRAILERS + trailing
    fields = [(b"grpc-status", str(code).encode())]
    if message:
        fields.append((b"grpc-message", _percent_encode(message)))
    return encode_literals(fields) + trailing


class HeaderDecoder:
    """One connection's HPACK decoding context (the peer's dynamic table lives here)."""

    def __init__(self) -> None:
        import logging

        import hpack

        # hpack logs every header it decodes at DEBUG, and serve() puts the root logger at
        # DEBUG for the host: that would be a JSON line per header per call.
        logging.getLogger("hpack").setLevel(logging.WARNING)

        self._decoder: Any = hpack.Decoder()
        self._decoder.max_header_list_size = 1 << 20

    def decode(self, block: bytes) -> list[tuple[str, str]]:
        return self._decoder.decode(block)  # type: ignore[no-any-return]
