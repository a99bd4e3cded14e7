"""The compiled pieces of the gob Decoder that need no decoder state.

Readers for builtin types (with Go's range checks when the expected type is sized), for slices,
arrays and maps around an element reader, and the zero values Go leaves in fields a sender
omitted. All of them take a :class:`Reader` positioned at the value.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable
from typing import Any

from goplugin.errors import GobError

from ._gobtypes import Basic, GoType, Kind, Struct, is_bytes
from ._gobwire import (
    BOOL_ID,
    BYTES_ID,
    COMPLEX_ID,
    FLOAT_ID,
    INT_ID,
    INTERFACE_ID,
    STRING_ID,
    UINT_ID,
    Reader,
    float_from_bits,
)

__all__ = [
    "GENERIC_BUILTIN_OPS",
    "GENERIC_ZERO",
    "WIRE_ID_OF_KIND",
    "DecOp",
    "array_op",
    "checked_builtin",
    "construct",
    "freeze",
    "map_op",
    "slice_op",
    "zero_plan",
]

DecOp = Callable[[Reader], Any]

_F32 = struct.Struct("<f")
_MAX_F32 = 3.4028234663852886e38
GENERIC_ZERO: dict[int, Any] = {
    BOOL_ID: False,
    INT_ID: 0,
    UINT_ID: 0,
    FLOAT_ID: 0.0,
    BYTES_ID: b"",
    STRING_ID: "",
    COMPLEX_ID: 0j,
    INTERFACE_ID: None,
}
# Which wire id each local kind must arrive as (Go's compatibleType for basic kinds).
WIRE_ID_OF_KIND = {
    Kind.BOOL: BOOL_ID,
    Kind.INT: INT_ID,
    Kind.UINT: UINT_ID,
    Kind.FLOAT: FLOAT_ID,
    Kind.COMPLEX: COMPLEX_ID,
    Kind.STRING: STRING_ID,
    Kind.INTERFACE: INTERFACE_ID,
}


def _d_bool(r: Reader) -> bool:
    return r.read_uint() != 0


def _d_float(r: Reader) -> float:
    return float_from_bits(r.read_uint())


def _d_complex(r: Reader) -> complex:
    return complex(float_from_bits(r.read_uint()), float_from_bits(r.read_uint()))


GENERIC_BUILTIN_OPS: dict[int, DecOp] = {
    BOOL_ID: _d_bool,
    INT_ID: Reader.read_int,
    UINT_ID: Reader.read_uint,
    FLOAT_ID: _d_float,
    BYTES_ID: Reader.read_bytes,
    STRING_ID: Reader.read_str,
    COMPLEX_ID: _d_complex,
}


def construct(cls: type, fields: dict[str, Any]) -> Any:
    try:
        return cls(**fields)
    except Exception as e:  # whatever the class refuses the value with, the value is bad
        raise GobError(f"cannot build {cls.__qualname__} from the decoded fields: {e}") from e


def checked_builtin(tid: int, want: Basic) -> DecOp:
    """Readers into sized Go types: out-of-range values are errors, as in Go."""
    op = GENERIC_BUILTIN_OPS[tid]
    bits = want.bits
    if want.kind is Kind.INT and bits < 64:
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    elif want.kind is Kind.UINT and bits < 64:
        lo, hi = 0, (1 << bits) - 1
    elif want.kind is Kind.FLOAT and bits == 32:
        return lambda r: _f32(_d_float(r), want)
    elif want.kind is Kind.COMPLEX and bits == 64:

        def op_c64(r: Reader) -> complex:
            c = _d_complex(r)
            return complex(_f32(c.real, want), _f32(c.imag, want))

        return op_c64
    else:
        return op

    def op_sized(r: Reader) -> int:
        v: int = op(r)
        if not lo <= v <= hi:
            raise GobError(f'value for "{want}" out of range')
        return v

    return op_sized


def _f32(v: float, want: GoType) -> float:
    if _MAX_F32 < abs(v) < float("inf"):
        raise GobError(f'value for "{want}" out of range')
    return _F32.unpack(_F32.pack(v))[0]  # type: ignore[no-any-return]


def slice_op(elem: DecOp) -> Callable[[Reader], list[Any]]:
    def op_slice(r: Reader) -> list[Any]:
        n = r.read_uint()
        r.enter()
        out = []
        for _ in range(n):
            if r.pos >= r.end:  # every element takes at least a byte: no allocation from n
                raise GobError(
                    f"gob: decoding array or slice: length exceeds input size ({n} elements)"
                )
            out.append(elem(r))
        r.depth -= 1
        return out

    return op_slice


def array_op(elem: DecOp, length: int) -> DecOp:
    elements = slice_op(elem)

    def op_array(r: Reader) -> list[Any]:
        pos = r.pos
        if r.read_uint() != length:
            raise GobError("gob: length mismatch in decodeArray")
        r.pos = pos
        return elements(r)

    return op_array


def map_op(key: DecOp, elem: DecOp) -> DecOp:
    def op_map(r: Reader) -> dict[Any, Any]:
        n = r.read_uint()
        r.enter()
        out = {}
        for _ in range(n):
            if r.pos >= r.end:
                raise GobError(f"gob: decoding map: length exceeds input size ({n} entries)")
            k = key(r)
            v = elem(r)
            try:
                out[k] = v
            except TypeError:
                raise GobError("gob: map keys of this type cannot be Python dict keys") from None
        r.depth -= 1
        return out

    return op_map


def freeze(v: Any) -> Any:
    """Arrays as map keys: lists are not hashable, tuples are."""
    return tuple(freeze(x) for x in v) if isinstance(v, list) else v


# --- zero values of expected types (what Go leaves in fields that were not sent) ---

# Process-wide, shared by every Decoder in every thread. _ZERO_PLANS is read without a lock and
# holds only finished plans (each stored once complete); building happens under _LOCK (an
# RLock: a plan builds the plans of its struct fields), which alone guards _BUILDING, the
# structs of the build in progress (a struct met again there contains itself).
_ZERO_PLANS: dict[Struct, tuple[dict[str, Any], list[tuple[str, Callable[[], Any]]]]] = {}
_BUILDING: set[Struct] = set()
_LOCK = threading.RLock()
_SCALAR_ZERO = {
    Kind.BOOL: False,
    Kind.INT: 0,
    Kind.UINT: 0,
    Kind.FLOAT: 0.0,
    Kind.COMPLEX: 0j,
    Kind.STRING: "",
}


def zero_plan(t: Struct) -> tuple[dict[str, Any], list[tuple[str, Callable[[], Any]]]]:
    """Zero fields of ``t`` (in field order) and factories replacing the mutable ones."""
    plan = _ZERO_PLANS.get(t)
    if plan is not None:
        return plan
    with _LOCK:  # one builder at a time: _BUILDING detects recursion within one thread
        return _build_zero_plan(t)


def _build_zero_plan(t: Struct) -> tuple[dict[str, Any], list[tuple[str, Callable[[], Any]]]]:
    plan = _ZERO_PLANS.get(t)
    if plan is not None:
        return plan
    if t in _BUILDING:
        raise GobError(f"invalid recursive type {t}: a struct cannot contain itself")
    _BUILDING.add(t)
    try:
        zeros: dict[str, Any] = {}
        factories: list[tuple[str, Callable[[], Any]]] = []
        for f in t.fields:
            zeros[f.attr] = _SCALAR_ZERO.get(f.type.kind, b"" if is_bytes(f.type) else None)
            factory = _zero_factory(f.type)
            if factory is not None:
                factories.append((f.attr, factory))
    finally:
        _BUILDING.discard(t)
    plan = _ZERO_PLANS[t] = (zeros, factories)
    return plan


def _zero_factory(t: GoType) -> Callable[[], Any] | None:
    """A maker of ``t``'s zero value when it is mutable; None when it is a constant."""
    if t.kind is Kind.SLICE and not is_bytes(t):
        return list
    if t.kind is Kind.ARRAY:
        elem = t.elem  # type: ignore[attr-defined]
        n = t.length  # type: ignore[attr-defined]
        make = _zero_factory(elem)
        if make is None:
            const = _SCALAR_ZERO.get(elem.kind, b"" if is_bytes(elem) else None)
            return lambda: [const] * n
        return lambda: [make() for _ in range(n)]
    if isinstance(t, Struct):
        zeros, factories = zero_plan(t)
        cls = t.cls

        def make_struct() -> Any:
            out = zeros.copy()
            for attr, factory in factories:
                out[attr] = factory()
            return out if cls is None else construct(cls, out)

        return make_struct
    return None
