"""The compiled per-type functions of the gob Encoder, shared by all encoders.

An op appends one value of its type with no field number (the caller writes that), as gob does
inside arrays, maps and singletons; a struct op writes its fields, leaving out zero ones the way
Go does. Python values are checked against the Go type here, so a value that does not fit raises
:class:`GobEncodeError` before anything is returned to be sent.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from goplugin.errors import GobEncodeError

from ._gobtypes import (
    Array,
    Basic,
    GoType,
    Kind,
    Map,
    Marshaler,
    Slice,
    Struct,
    is_bytes,
    strip_ptr,
)
from ._gobwire import float_bits, put_int, put_uint

if TYPE_CHECKING:
    from ._gobenc import Encoder

__all__ = ["op_for", "payload_op_for"]

Op = Callable[["Encoder", bytearray, Any], None]

# Struct fields of these kinds are omitted when falsy (0, "", empty); the others only when nil.
_OMIT_FALSY = frozenset({Kind.BOOL, Kind.INT, Kind.UINT, Kind.FLOAT, Kind.COMPLEX, Kind.STRING})
_F32 = struct.Struct("<f")

# Process-wide: every Encoder in every thread shares these, keyed by Go type.
# Readers (any thread, once per value encoded) look up without a lock, and only ever find
# complete ops: a build happens under _LOCK in a private table and is published once every op
# in it exists (each dict store is atomic; what it stores is already whole). So a thread meeting
# a type another thread is still building waits on _LOCK instead of calling a half-built op.
_OPS: dict[GoType, Op] = {}
_PAYLOAD_OPS: dict[GoType, Op] = {}
_LOCK = threading.Lock()


def op_for(t: GoType) -> Op:
    op = _OPS.get(t)
    if op is None:
        with _LOCK:
            op = _OPS.get(t)
            if op is None:
                building: dict[GoType, Op] = {}
                op = _Build(building).op(t)
                _OPS.update(building)
    return op


def payload_op_for(t: GoType) -> Op:
    """The op for a top-level (or interface-held) value: a struct, or a singleton (field 0)."""
    op = _PAYLOAD_OPS.get(t)
    if op is None:
        value_op = op_for(t)
        if strip_ptr(t).kind is Kind.STRUCT:
            op = value_op
        else:

            def op(enc: Encoder, out: bytearray, v: Any) -> None:
                out.append(0)  # a singleton is a struct with one field, number 0
                value_op(enc, out, v)

        with _LOCK:
            op = _PAYLOAD_OPS.setdefault(t, op)
    return op


class _Build:
    """One build of missing ops, private to the thread holding ``_LOCK`` until published.

    A struct's op is entered in ``ops`` before its fields' ops are built (and fills in its
    field plan afterwards), so a struct that refers to itself gets its own op, not a
    placeholder. If anything fails, the whole build is dropped: nothing half-done is shared.
    """

    __slots__ = ("ops",)

    def __init__(self, ops: dict[GoType, Op]) -> None:
        self.ops = ops

    def op(self, t: GoType) -> Op:
        op = _OPS.get(t) or self.ops.get(t)
        if op is None:
            op = self.ops[t] = _make_op(t, self)
        return op


def _bad(v: Any, t: GoType) -> GobEncodeError:
    return GobEncodeError(f"cannot encode {type(v).__name__} {v!r:.60} as Go {t}")


def _make_op(t: GoType, build: _Build) -> Op:
    if t.kind is Kind.PTR:
        elem_op = build.op(strip_ptr(t))
        if strip_ptr(t).kind is Kind.INTERFACE:
            return elem_op  # None: a pointer to a nil interface (Go's new(interface{}))

        def op_ptr(enc: Encoder, out: bytearray, v: Any) -> None:
            if v is None:
                raise GobEncodeError(f"gob: cannot encode nil element of type {t}")
            elem_op(enc, out, v)

        return op_ptr
    if isinstance(t, Basic):
        return _basic_op(t)
    if t.kind is Kind.INTERFACE:
        return lambda enc, out, v: enc._encode_interface(out, v)
    if is_bytes(t) or isinstance(t, Marshaler):

        def op_bytes(enc: Encoder, out: bytearray, v: Any) -> None:
            if v is None:
                out.append(0)
                return
            if not isinstance(v, (bytes, bytearray, memoryview)):
                if not isinstance(v, (list, tuple)):
                    raise _bad(v, t)
                v = bytes(v)
            put_uint(out, len(v))
            out += v

        return op_bytes
    if isinstance(t, Slice):
        elem_op = build.op(t.elem)

        def op_slice(enc: Encoder, out: bytearray, v: Any) -> None:
            if v is None:
                out.append(0)
                return
            if isinstance(v, (str, bytes, Mapping)):
                raise _bad(v, t)
            put_uint(out, len(v))
            for e in v:
                elem_op(enc, out, e)

        return op_slice
    if isinstance(t, Array):
        elem_op, length = build.op(t.elem), t.length

        def op_array(enc: Encoder, out: bytearray, v: Any) -> None:
            if isinstance(v, (str, bytes, Mapping)) or len(v) != length:
                raise GobEncodeError(f"need {length} items for Go {t}, got {v!r:.60}")
            put_uint(out, length)
            for e in v:
                elem_op(enc, out, e)

        return op_array
    if isinstance(t, Map):
        key_op, val_op = build.op(t.key), build.op(t.elem)

        def op_map(enc: Encoder, out: bytearray, v: Any) -> None:
            if v is None:
                out.append(0)
                return
            if not isinstance(v, Mapping):
                raise _bad(v, t)
            put_uint(out, len(v))
            for k, e in v.items():
                key_op(enc, out, k)
                val_op(enc, out, e)

        return op_map
    if isinstance(t, Struct):
        return _struct_op(t, build)
    raise GobEncodeError(f"gob: cannot encode type {t}")  # pragma: no cover


def _struct_op(t: Struct, build: _Build) -> Op:
    fields = t.fields
    if len(fields) > 127:
        raise GobEncodeError(f"struct {t} has more than 127 fields; not supported")
    plan: list[tuple[str, str, int, Op, bool]] = []  # filled below, once this op is entered
    keys = frozenset(f.name for f in fields)
    cls = t.cls

    def op_struct(enc: Encoder, out: bytearray, v: Any) -> None:
        # Zero fields are left out (Go's rule), so the receiver keeps its own zero values.
        if v is None:
            raise GobEncodeError(f"gob: cannot encode nil pointer of type *{t}")
        if type(v) is dict or (isinstance(v, Mapping) and not (cls and isinstance(v, cls))):
            if not keys.issuperset(v):
                extra = ", ".join(sorted(map(str, set(v) - keys)))
                raise GobEncodeError(f"Go {t} has no field(s) {extra}")
            by_key = True
        else:
            by_key = False
        last = -1
        for key, attr, num, fop, falsy in plan:
            x = v.get(key) if by_key else getattr(v, attr, None)
            if x is None or (falsy and not x):
                continue
            out.append(num - last)  # fields are numbered in order: a delta below 128 here
            last = num
            fop(enc, out, x)
        out.append(0)

    build.ops[t] = op_struct  # fields of this type's own type find it here
    for num, f in enumerate(fields):
        base = strip_ptr(f.type)
        falsy = base.kind in _OMIT_FALSY or is_bytes(base) or isinstance(base, Slice)
        plan.append((f.name, f.attr, num, build.op(f.type), falsy))
    return op_struct


def _basic_op(t: Basic) -> Op:
    kind, bits = t.kind, t.bits
    if kind is Kind.BOOL:

        def op_bool(enc: Encoder, out: bytearray, v: Any) -> None:
            if v is True:
                out.append(1)
            elif v is False:
                out.append(0)
            else:
                raise _bad(v, t)

        return op_bool
    if kind is Kind.INT or kind is Kind.UINT:
        lo = -(1 << (bits - 1)) if kind is Kind.INT else 0
        hi = (1 << (bits - 1)) - 1 if kind is Kind.INT else (1 << bits) - 1
        put = put_int if kind is Kind.INT else put_uint

        def op_int(enc: Encoder, out: bytearray, v: Any) -> None:
            if type(v) is not int and (not isinstance(v, int) or isinstance(v, bool)):
                raise _bad(v, t)
            if not lo <= v <= hi:
                raise GobEncodeError(f"{v} is out of range for Go {t}")
            put(out, v)

        return op_int
    if kind is Kind.FLOAT:
        to_float = _to_float32 if bits == 32 else float

        def op_float(enc: Encoder, out: bytearray, v: Any) -> None:
            if isinstance(v, (bool, complex, str, bytes)):
                raise _bad(v, t)
            put_uint(out, float_bits(to_float(v)))

        return op_float
    if kind is Kind.COMPLEX:
        part = _to_float32 if bits == 64 else float

        def op_complex(enc: Encoder, out: bytearray, v: Any) -> None:
            if isinstance(v, (bool, str, bytes)):
                raise _bad(v, t)
            c = complex(v)
            put_uint(out, float_bits(part(c.real)))
            put_uint(out, float_bits(part(c.imag)))

        return op_complex

    def op_string(enc: Encoder, out: bytearray, v: Any) -> None:
        if not isinstance(v, str):
            raise _bad(v, t)
        data = v.encode("utf-8", "surrogateescape")
        put_uint(out, len(data))
        out += data

    return op_string


def _to_float32(v: Any) -> float:
    """What Go's float32 holds: the value rounded to single precision."""
    try:
        return _F32.unpack(_F32.pack(float(v)))[0]  # type: ignore[no-any-return]
    except OverflowError:
        raise GobEncodeError(f"{v} is out of range for Go float32") from None
