"""The part of MessagePack a Terraform host needs for the values of this example.

Terraform encodes the values it exchanges with providers (``DynamicValue.msgpack``) in
MessagePack, with cty's rules: objects and maps are maps, numbers are integers or float64s, and
a value not yet known is the extension type 0. This module encodes None, bool, int, float, str,
bytes, lists and dicts, and decodes everything MessagePack has, extensions as :class:`Ext`.
"""

from __future__ import annotations

import struct
from typing import Any, NamedTuple

__all__ = ["UNKNOWN", "Ext", "packb", "unpackb"]


class Ext(NamedTuple):
    """A MessagePack extension value (cty: code 0 is an unknown value)."""

    code: int
    data: bytes


#: cty's unknown value, as Terraform sends it (and as a function's result when it failed).
UNKNOWN = Ext(0, b"\x00")


def packb(value: Any) -> bytes:
    out = bytearray()
    _pack(value, out)
    return bytes(out)


def _pack(value: Any, out: bytearray) -> None:
    if value is None:
        out.append(0xC0)
    elif value is True or value is False:
        out.append(0xC3 if value else 0xC2)
    elif isinstance(value, int):
        _pack_int(value, out)
    elif isinstance(value, float):
        out += b"\xcb" + struct.pack(">d", value)
    elif isinstance(value, str):
        data = value.encode()
        _pack_len(len(data), out, fix=(0xA0, 32), codes=(0xD9, 0xDA, 0xDB))
        out += data
    elif isinstance(value, (bytes, bytearray)):
        _pack_len(len(value), out, fix=None, codes=(0xC4, 0xC5, 0xC6))
        out += value
    elif isinstance(value, Ext):  # before tuple: an Ext is a NamedTuple
        _pack_ext(value, out)
    elif isinstance(value, (list, tuple)):
        _pack_len(len(value), out, fix=(0x90, 16), codes=(None, 0xDC, 0xDD))
        for item in value:
            _pack(item, out)
    elif isinstance(value, dict):
        _pack_len(len(value), out, fix=(0x80, 16), codes=(None, 0xDE, 0xDF))
        for key, item in value.items():
            _pack(key, out)
            _pack(item, out)
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as MessagePack")


def _pack_int(value: int, out: bytearray) -> None:
    if 0 <= value < 0x80 or -32 <= value < 0:
        out += struct.pack(">b" if value < 0 else ">B", value)
    elif value >= 0:
        for code, fmt, limit in (
            (0xCC, ">B", 8),
            (0xCD, ">H", 16),
            (0xCE, ">I", 32),
            (0xCF, ">Q", 64),
        ):
            if value < 1 << limit:
                out += bytes([code]) + struct.pack(fmt, value)
                return
        raise OverflowError(f"{value} does not fit in 64 bits")
    else:
        for code, fmt, limit in (
            (0xD0, ">b", 7),
            (0xD1, ">h", 15),
            (0xD2, ">i", 31),
            (0xD3, ">q", 63),
        ):
            if value >= -(1 << limit):
                out += bytes([code]) + struct.pack(fmt, value)
                return
        raise OverflowError(f"{value} does not fit in 64 bits")


def _pack_len(
    n: int, out: bytearray, *, fix: tuple[int, int] | None, codes: tuple[int | None, int, int]
) -> None:
    if fix is not None and n < fix[1]:
        out.append(fix[0] | n)
    elif codes[0] is not None and n < 1 << 8:
        out += bytes([codes[0], n])
    elif n < 1 << 16:
        out += bytes([codes[1]]) + struct.pack(">H", n)
    else:
        out += bytes([codes[2]]) + struct.pack(">I", n)


def _pack_ext(value: Ext, out: bytearray) -> None:
    fixed = {1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}.get(len(value.data))
    if fixed is not None:
        out.append(fixed)
    else:
        _pack_len(len(value.data), out, fix=None, codes=(0xC7, 0xC8, 0xC9))
    out += struct.pack(">b", value.code) + value.data


def unpackb(data: bytes) -> Any:
    """Decode one value; ValueError if ``data`` is not exactly one MessagePack value."""
    reader = _Reader(data)
    value = reader.value()
    if reader.pos != len(data):
        raise ValueError(f"{len(data) - reader.pos} bytes after the MessagePack value")
    return value


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError("truncated MessagePack value")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def value(self) -> Any:
        code = self.take(1)[0]
        if code <= 0x7F:
            return code
        if code >= 0xE0:
            return code - 0x100
        if 0x80 <= code <= 0x8F:
            return self.map(code & 0x0F)
        if 0x90 <= code <= 0x9F:
            return [self.value() for _ in range(code & 0x0F)]
        if 0xA0 <= code <= 0xBF:
            return self.take(code & 0x1F).decode()
        simple: dict[int, Any] = {0xC0: None, 0xC2: False, 0xC3: True}
        if code in simple:
            return simple[code]
        sized = _SIZED.get(code)
        if sized is not None:
            kind, fmt = sized
            n = self.unpack(fmt)
            if kind == "str":
                return self.take(n).decode()
            if kind == "bin":
                return self.take(n)
            if kind == "array":
                return [self.value() for _ in range(n)]
            if kind == "map":
                return self.map(n)
            return Ext(self.unpack(">b"), self.take(n))
        number = _NUMBERS.get(code)
        if number is not None:
            return self.unpack(number)
        fixext = _FIXEXT.get(code)
        if fixext is not None:
            return Ext(self.unpack(">b"), self.take(fixext))
        raise ValueError(f"unknown MessagePack type byte 0x{code:02x}")

    def map(self, n: int) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for _ in range(n):
            key = self.value()
            out[key] = self.value()
        return out


_SIZED = {
    0xC4: ("bin", ">B"),
    0xC5: ("bin", ">H"),
    0xC6: ("bin", ">I"),
    0xC7: ("ext", ">B"),
    0xC8: ("ext", ">H"),
    0xC9: ("ext", ">I"),
    0xD9: ("str", ">B"),
    0xDA: ("str", ">H"),
    0xDB: ("str", ">I"),
    0xDC: ("array", ">H"),
    0xDD: ("array", ">I"),
    0xDE: ("map", ">H"),
    0xDF: ("map", ">I"),
}
_NUMBERS = {
    0xCA: ">f",
    0xCB: ">d",
    0xCC: ">B",
    0xCD: ">H",
    0xCE: ">I",
    0xCF: ">Q",
    0xD0: ">b",
    0xD1: ">h",
    0xD2: ">i",
    0xD3: ">q",
}
_FIXEXT = {0xD4: 1, 0xD5: 2, 0xD6: 4, 0xD7: 8, 0xD8: 16}
