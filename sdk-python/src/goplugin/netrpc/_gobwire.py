"""gob's wire primitives: integers, floats, message frames, and type definitions (wireType).

Everything here is Go's encoding/gob format as documented in its package doc; the type
definition layout is Go's ``wireType`` struct, which every gob peer must decode with builtin
type ids 16-24 that are never sent.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from goplugin.errors import GobError

from ._gobtypes import Kind

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "FIRST_USER_ID",
    "TOO_BIG",
    "NeedMore",
    "Reader",
    "WireType",
    "decode_wire_type",
    "encode_wire_type",
    "float_bits",
    "float_from_bits",
    "put_int",
    "put_uint",
]

#: Go hands out user type ids from here; lower ids are gob's own.
FIRST_USER_ID = 64
#: Go's decoder refuses messages this long or longer (tooBig; 1 GiB on 32-bit Go, 8 GiB on 64).
TOO_BIG = 1 << 30
MAX_TYPE_ID = (1 << 31) - 1  # type ids are int32 in Go

BOOL_ID, INT_ID, UINT_ID, FLOAT_ID, BYTES_ID, STRING_ID, COMPLEX_ID, INTERFACE_ID = range(1, 9)
BUILTIN_NAMES = {
    BOOL_ID: "bool",
    INT_ID: "int",
    UINT_ID: "uint",
    FLOAT_ID: "float",
    BYTES_ID: "bytes",
    STRING_ID: "string",
    COMPLEX_ID: "complex",
    INTERFACE_ID: "interface",
}

_D = struct.Struct("<d")


def put_uint(out: bytearray, x: int) -> None:
    """Append gob's unsigned integer: one byte below 128, else -(byte count) then big-endian."""
    if x < 0x80:
        out.append(x)
        return
    n = (x.bit_length() + 7) >> 3
    out.append(256 - n)
    out += x.to_bytes(n, "big")


def put_int(out: bytearray, i: int) -> None:
    """Append gob's signed integer: the sign in bit 0, complemented magnitude when negative."""
    put_uint(out, (~i << 1) | 1 if i < 0 else i << 1)


def float_bits(f: float) -> int:
    """A float64 as gob's uint: IEEE 754 bits byte-reversed, so round numbers encode short."""
    return int.from_bytes(_D.pack(f), "big")


def float_from_bits(u: int) -> float:
    return _D.unpack(u.to_bytes(8, "big"))[0]  # type: ignore[no-any-return]


class NeedMore(Exception):
    """A value continues in a message that has not fully arrived yet (``need`` = buffer size)."""

    def __init__(self, need: int):
        self.need = need


class Reader:
    """Reads one gob message (``buf[pos:end]``), and the next ones when an interface needs it.

    Never reads past ``end``: a message's declared length is only trusted after all of its
    bytes arrived, and every count read from it is checked against what is left in it before
    anything is sliced out, so nothing is allocated from an untrusted count.
    """

    __slots__ = ("buf", "depth", "end", "limit", "max_depth", "pos")

    def __init__(self, buf: bytearray, pos: int, end: int, limit: int, max_depth: int):
        self.buf = buf
        self.pos = pos
        self.end = end
        self.limit = limit
        self.depth = 0
        self.max_depth = max_depth

    def read_uint(self) -> int:
        pos = self.pos
        if pos >= self.end:
            raise GobError("gob: unexpected end of message")
        b = self.buf[pos]
        if b < 0x80:
            self.pos = pos + 1
            return b
        n = 256 - b
        if n > 8:
            raise GobError("gob: encoded unsigned integer out of range")
        stop = pos + 1 + n
        if stop > self.end:
            raise GobError(f"gob: invalid uint data length {n}: exceeds input size")
        self.pos = stop
        return int.from_bytes(self.buf[pos + 1 : stop], "big")

    def read_int(self) -> int:
        x = self.read_uint()
        return ~(x >> 1) if x & 1 else x >> 1

    def read_bytes(self) -> bytes:
        """A length-prefixed byte string (gob's bytes and string)."""
        n = self.read_uint()
        pos = self.pos
        if n > self.end - pos:
            raise GobError(f"gob: invalid string length {n}: exceeds input size {self.end - pos}")
        self.pos = pos + n
        return bytes(self.buf[pos : pos + n])

    def read_str(self) -> str:
        n = self.read_uint()
        pos = self.pos
        if n > self.end - pos:
            raise GobError(f"gob: invalid string length {n}: exceeds input size {self.end - pos}")
        self.pos = pos + n
        return self.buf[pos : pos + n].decode("utf-8", "surrogateescape")

    def enter(self) -> None:
        """Count one level of nesting; malicious (or recursive) data can't blow the stack."""
        self.depth += 1
        if self.depth > self.max_depth:
            raise GobError(f"gob: value nested more than {self.max_depth} levels deep")

    def next_message(self) -> None:
        """Continue in the next message (an interface's type definitions ended this one)."""
        start, end = frame_at(self.buf, self.end, self.limit)
        if end < 0:
            raise NeedMore(start)
        self.pos = start
        self.end = end


def frame_at(buf: bytearray, pos: int, limit: int) -> tuple[int, int]:
    """The message starting at ``pos``: (body start, body end), or (bytes needed, -1)."""
    size = len(buf)
    if pos >= size:
        return pos + 1, -1
    b = buf[pos]
    if b < 0x80:
        n, start = b, pos + 1
    else:
        k = 256 - b
        if k > 8:
            raise GobError("gob: encoded unsigned integer out of range")
        start = pos + 1 + k
        if start > size:
            return start, -1
        n = int.from_bytes(buf[pos + 1 : start], "big")
    if n >= limit:
        raise GobError(f"gob: invalid message length {n} (limit {limit})")
    end = start + n
    if end > size:
        return end, -1
    return start, end


@dataclass(frozen=True, slots=True)
class WireType:
    """A received (or sent) type definition: Go's wireType, flattened.

    ``kind`` is ARRAY, SLICE, STRUCT, MAP or MARSHALER; ``name``/``id`` are its CommonType
    (informational only: Go's names depend on how the sender first met the type).
    """

    kind: Kind
    name: str
    id: int
    elem: int = 0
    key: int = 0
    length: int = 0
    fields: tuple[tuple[str, int], ...] = ()
    method: str = ""

    def __str__(self) -> str:
        return self.name or f"<{self.kind.value} type {self.id}>"


# wireType's fields, in Go's order: ArrayT SliceT StructT MapT GobEncoderT BinaryMarshalerT
# TextMarshalerT.
_WIRE_FIELDS = (
    (Kind.ARRAY, ""),
    (Kind.SLICE, ""),
    (Kind.STRUCT, ""),
    (Kind.MAP, ""),
    (Kind.MARSHALER, "gob"),
    (Kind.MARSHALER, "binary"),
    (Kind.MARSHALER, "text"),
)
_WIRE_FIELD_OF = {kind_method: i for i, kind_method in enumerate(_WIRE_FIELDS)}


def _put_str(out: bytearray, s: str) -> None:
    b = s.encode("utf-8", "surrogateescape")
    put_uint(out, len(b))
    out += b


def _put_int_fields(out: bytearray, last: int, fields: tuple[tuple[int, int], ...]) -> None:
    """Append (field number, int) pairs, skipping zeros as gob does, then the terminator."""
    for num, value in fields:
        if value:
            put_uint(out, num - last)
            put_int(out, value)
            last = num
    out.append(0)


def encode_wire_type(out: bytearray, w: WireType) -> None:
    """Append ``w`` as a wireType struct value."""
    out.append(_WIRE_FIELD_OF[w.kind, w.method] + 1)
    out.append(1)  # CommonType: a struct field, always sent
    last = -1
    if w.name:
        out.append(1)
        _put_str(out, w.name)
        last = 0
    _put_int_fields(out, last, ((1, w.id),))
    if w.kind is Kind.ARRAY:
        _put_int_fields(out, 0, ((1, w.elem), (2, w.length)))
    elif w.kind is Kind.SLICE:
        _put_int_fields(out, 0, ((1, w.elem),))
    elif w.kind is Kind.MAP:
        _put_int_fields(out, 0, ((1, w.key), (2, w.elem)))
    elif w.kind is Kind.STRUCT:
        if w.fields:
            out.append(1)
            put_uint(out, len(w.fields))
            for name, tid in w.fields:
                last = -1
                if name:
                    out.append(1)
                    _put_str(out, name)
                    last = 0
                _put_int_fields(out, last, ((1, tid),))
        out.append(0)
    else:
        out.append(0)
    out.append(0)


def _field_numbers(r: Reader, count: int) -> Iterator[int]:
    """Field numbers of a struct in ``r`` up to its terminator (or the message end, like Go).

    The caller reads each field's value before asking for the next number.
    """
    num = -1
    while r.pos < r.end:
        delta = r.read_uint()
        if delta == 0:
            return
        num += delta
        if num >= count:
            raise GobError("gob: bad data: field numbers out of bounds")
        yield num


def _type_id(r: Reader) -> int:
    tid = r.read_int()
    if not 0 <= tid <= MAX_TYPE_ID:
        raise GobError(f"gob: bad type id {tid} in type definition")
    return tid


def _read_common(r: Reader) -> tuple[str, int]:
    name, tid = "", 0
    for num in _field_numbers(r, 2):
        if num == 0:
            name = r.read_str()
        else:
            tid = _type_id(r)
    return name, tid


def decode_wire_type(r: Reader) -> WireType:
    """Read a wireType struct value: exactly one of its fields must be set."""
    found: WireType | None = None
    for num in _field_numbers(r, len(_WIRE_FIELDS)):
        if found is not None:
            raise GobError("gob: type definition describes more than one type")
        kind, method = _WIRE_FIELDS[num]
        name, tid = "", 0
        ints = [0, 0, 0]  # (elem, len) for arrays, (elem) for slices, (key, elem) for maps
        fields: list[tuple[str, int]] = []
        nfields = {Kind.ARRAY: 3, Kind.SLICE: 2, Kind.MAP: 3, Kind.STRUCT: 2}.get(kind, 1)
        for sub in _field_numbers(r, nfields):
            if sub == 0:
                name, tid = _read_common(r)
            elif kind is Kind.STRUCT:
                n = r.read_uint()
                for _ in range(n):
                    if r.pos >= r.end:
                        raise GobError(f"gob: struct type has {n} fields but the message ended")
                    fname, fid = "", 0
                    for fnum in _field_numbers(r, 2):
                        if fnum == 0:
                            fname = r.read_str()
                        else:
                            fid = _type_id(r)
                    fields.append((fname, fid))
            elif kind is Kind.ARRAY and sub == 2:
                ints[2] = r.read_int()
                if ints[2] < 0:
                    raise GobError(f"gob: negative array length {ints[2]}")
            else:
                ints[sub] = _type_id(r)
        if kind is Kind.ARRAY:
            found = WireType(kind, name, tid, elem=ints[1], length=ints[2])
        elif kind is Kind.MAP:
            found = WireType(kind, name, tid, key=ints[1], elem=ints[2])
        elif kind is Kind.SLICE:
            found = WireType(kind, name, tid, elem=ints[1])
        elif kind is Kind.STRUCT:
            found = WireType(kind, name, tid, fields=tuple(fields))
        else:
            found = WireType(kind, name, tid, method=method)
    if found is None:
        raise GobError("gob: empty type definition")
    return found
