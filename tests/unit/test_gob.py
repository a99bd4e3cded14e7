"""The gob Encoder/Decoder without processes: Go-recorded vectors, round trips, and fuzzing."""

from __future__ import annotations

import struct
import tracemalloc
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goplugin.errors import GobEncodeError, GobError
from goplugin.netrpc import _gob as gob
from goplugin.netrpc._gob import (
    BOOL,
    BYTES,
    COMPLEX64,
    COMPLEX128,
    FLOAT32,
    FLOAT64,
    INT,
    INT8,
    INT16,
    INT32,
    INT64,
    INTERFACE,
    MAP_STRING_ANY,
    STRING,
    UINT,
    UINT8,
    UINT16,
    UINT32,
    UINT64,
    UINTPTR,
    Array,
    GoType,
    Kind,
    Map,
    Marshaler,
    Ptr,
    Slice,
    Struct,
    Typed,
)
from goplugin.netrpc._gobtypes import is_bytes, strip_ptr
from goplugin.netrpc._gobwire import Reader, encode_wire_type, frame_at, put_int, put_uint


@dataclass
class Pt:
    X: int
    Y: int


POINT = Struct("Point", [("X", INT), ("Y", INT)], cls=Pt)
REGISTRY = gob.Registry()
REGISTRY.register(POINT)
ARGS = Struct("Args", [("A", INT), ("B", INT)])
HOLDER = Struct("Holder", [("V", INTERFACE), ("W", INTERFACE)])

# Recorded from examples-go/testprogs/gobvectors (a fresh Go process per value).
GO_IFACE_POINT = bytes.fromhex(
    "2b10000a6d61696e2e506f696e747f03010105506f696e7401ff80000102010158010400010159010400000008"
    "ff80050102010400"
)
GO_IFACE_NESTED = bytes.fromhex(
    "271000176d61705b737472696e675d696e74657266616365207b7d7f040102ff8000010c01100000ff8cff80ff"
    "88000105696e6e6572176d61705b737472696e675d696e74657266616365207b7dff8022000104646565700e5b"
    "5d696e74657266616365207b7dff81020102ff82000110000042ff8236000205696e743634040200020a6d6169"
    "6e2e506f696e74ff8303010105506f696e7401ff84000102010158010400010159010400000008ff8405010a01"
    "0c00"
)
GO_STRUCT_IFACE_POINT = bytes.fromhex(
    "1f7f03010106486f6c64657201ff8000010201015601100001015701100000002dff80010a6d61696e2e506f69"
    "6e74ff8103010105506f696e7401ff82000102010158010400010159010400000014ff82050102010400010569"
    "6e7433320402000a00"
)
GO_PUT_ARGS_1 = bytes.fromhex(
    "0d7f040102ff8000010c0110000018ff800001036b657906737472696e670c07000568656c6c6f"
)


def decode_all(data: bytes, want: GoType | None = None, registry: gob.Registry = REGISTRY) -> Any:
    dec = gob.Decoder(registry)
    dec.feed(data)
    value = dec.next_value(want)
    assert dec.buffered == 0
    return value


# --- primitives ---


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, "00"),
        (7, "07"),
        (127, "7f"),
        (128, "ff80"),
        (256, "fe0100"),
        (2**64 - 1, "f8" + "ff" * 8),
    ],
)
def test_uint_encoding(value: int, encoded: str) -> None:
    out = bytearray()
    put_uint(out, value)
    assert out.hex() == encoded


@pytest.mark.parametrize(("value", "encoded"), [(0, "00"), (-1, "01"), (1, "02"), (-129, "fe0101")])
def test_int_encoding(value: int, encoded: str) -> None:
    out = bytearray()
    put_int(out, value)
    assert out.hex() == encoded


@given(st.integers(-(2**63), 2**63 - 1))
def test_int_round_trip(value: int) -> None:
    out = bytearray()
    put_int(out, value)
    assert Reader(out, 0, len(out), 1 << 20, 10).read_int() == value


# --- Go's bytes ---


def test_go_interface_split_across_messages() -> None:
    """Go defines main.Point in the middle of the value: the value spans two messages."""
    assert decode_all(GO_IFACE_POINT, INTERFACE) == Pt(1, 2)
    assert gob.Encoder(REGISTRY).encode(Pt(1, 2), INTERFACE) == GO_IFACE_POINT
    first = GO_IFACE_POINT[: 1 + GO_IFACE_POINT[0]]
    dec = gob.Decoder(REGISTRY)
    dec.feed(first)
    assert dec.next_value() is gob.NEED_DATA
    assert dec.wire_types == {}  # what the unfinished value taught is forgotten ...
    dec.feed(GO_IFACE_POINT[len(first) :])
    assert dec.next_value() == Pt(1, 2)  # ... and learned again
    assert list(dec.wire_types) == [64]


def test_go_nested_interfaces() -> None:
    """Definitions inside an interface inside an interface come with skipped byte counts."""
    want = {"inner": {"deep": [1, Pt(5, 6)]}}
    assert decode_all(GO_IFACE_NESTED, INTERFACE) == want
    value = {"inner": {"deep": [Typed(INT64, 1), Pt(5, 6)]}}
    assert gob.Encoder(REGISTRY).encode(value, INTERFACE) == GO_IFACE_NESTED


def test_go_struct_with_interfaces() -> None:
    assert decode_all(GO_STRUCT_IFACE_POINT, HOLDER) == {"V": Pt(1, 2), "W": 5}
    value = {"V": Pt(1, 2), "W": Typed(INT32, 5)}
    assert gob.Encoder(REGISTRY).encode(value, HOLDER) == GO_STRUCT_IFACE_POINT


def test_go_put_args() -> None:
    assert decode_all(GO_PUT_ARGS_1, MAP_STRING_ANY) == {"key": "hello"}
    assert decode_all(GO_PUT_ARGS_1) == {"key": "hello"}
    assert gob.Encoder().encode({"key": "hello"}, MAP_STRING_ANY) == GO_PUT_ARGS_1


def test_singletons_and_nil_interface() -> None:
    assert gob.Encoder().encode(None, INTERFACE).hex() == "03100000"  # new(interface{})
    assert gob.Encoder().encode(1, UINT32).hex() == "03060001"
    assert gob.Encoder().encode(True).hex() == "03020001"
    assert decode_all(bytes.fromhex("03100000")) is None


# --- round trips ---

_F32S = st.floats(width=32, allow_nan=False)
_SCALARS: dict[GoType, st.SearchStrategy[Any]] = {
    BOOL: st.booleans(),
    INT: st.integers(-(2**63), 2**63 - 1),
    INT8: st.integers(-128, 127),
    INT16: st.integers(-(2**15), 2**15 - 1),
    INT32: st.integers(-(2**31), 2**31 - 1),
    INT64: st.integers(-(2**63), 2**63 - 1),
    UINT: st.integers(0, 2**64 - 1),
    UINT8: st.integers(0, 255),
    UINT16: st.integers(0, 2**16 - 1),
    UINT32: st.integers(0, 2**32 - 1),
    UINT64: st.integers(0, 2**64 - 1),
    UINTPTR: st.integers(0, 2**64 - 1),
    FLOAT32: _F32S,
    FLOAT64: st.floats(allow_nan=False),
    COMPLEX64: st.builds(complex, _F32S, _F32S),
    COMPLEX128: st.complex_numbers(allow_nan=False),
    STRING: st.text(st.characters(exclude_categories=["Cs"]), max_size=10)
    | st.binary(max_size=5).map(lambda b: b.decode("utf-8", "surrogateescape")),
    BYTES: st.binary(max_size=10),
    Marshaler("Thing"): st.binary(max_size=10),
    INTERFACE: st.none(),  # filled in by _values
}  # fmt: skip
_KEYS = [STRING, INT, UINT8, BOOL, Array(INT, 2)]
_IFACE_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    _SCALARS[STRING],
    st.binary(max_size=5),
    st.builds(Pt, st.integers(-5, 5), st.integers(-5, 5)),
    st.integers(-(2**31), 2**31 - 1).map(lambda i: Typed(INT32, i)),
    st.lists(_SCALARS[STRING], max_size=3).map(lambda v: Typed(Slice(STRING), v)),
    st.dictionaries(_SCALARS[STRING], st.integers(-9, 9), max_size=2),
)
_struct_names = iter(range(10**9))


def _struct(field_types: list[GoType]) -> Struct:
    fields = [(f"F{i}", t) for i, t in enumerate(field_types)]
    return Struct(f"S{next(_struct_names)}", fields)


types: st.SearchStrategy[GoType] = st.recursive(
    st.sampled_from([*_SCALARS, POINT]),
    lambda inner: st.one_of(
        inner.map(Slice),
        st.builds(Array, inner, st.integers(0, 3)),
        st.builds(Map, st.sampled_from(_KEYS), inner),
        inner.map(Ptr),
        st.lists(inner, max_size=4).map(_struct),
    ),
    max_leaves=6,
)


def _values(t: GoType, *, field: bool = False) -> st.SearchStrategy[Any]:
    """Values of Go type ``t``; in a struct field nil pointers and nil maps may appear too."""
    if t.kind is Kind.PTR:
        inner = _values(strip_ptr(t))
        return st.none() | inner if field else inner
    if t.kind is Kind.INTERFACE:
        return _IFACE_VALUES
    if t in _SCALARS:
        return _SCALARS[t]
    if isinstance(t, Slice):
        return st.lists(_values(t.elem), max_size=3)
    if isinstance(t, Array):
        elems = st.lists(_values(t.elem), min_size=t.length, max_size=t.length)
        return elems | elems.map(tuple)
    if isinstance(t, Map):
        key = _values(t.key).map(tuple) if isinstance(t.key, Array) else _values(t.key)
        maps = st.dictionaries(key, _values(t.elem), max_size=3)
        return st.none() | maps if field else maps
    if t is POINT:
        return st.builds(Pt, _SCALARS[INT], _SCALARS[INT]) | st.fixed_dictionaries(
            {"X": _SCALARS[INT], "Y": _SCALARS[INT]}
        )
    assert isinstance(t, Struct)
    return st.fixed_dictionaries({f.name: _values(f.type, field=True) for f in t.fields})


_FALSY_KINDS = {Kind.BOOL, Kind.INT, Kind.UINT, Kind.FLOAT, Kind.COMPLEX, Kind.STRING}


def _omitted(t: GoType, v: Any) -> bool:
    base = strip_ptr(t)
    falsy = base.kind in _FALSY_KINDS or base.kind is Kind.SLICE
    return v is None or (falsy and not v)


def _zero(t: GoType, generic: bool) -> Any:
    if t.kind is Kind.PTR and not generic:
        return None
    t = strip_ptr(t)
    if t.kind in _FALSY_KINDS:
        return {Kind.BOOL: False, Kind.FLOAT: 0.0, Kind.COMPLEX: 0j, Kind.STRING: ""}.get(t.kind, 0)
    if is_bytes(t):
        return b""
    if t.kind is Kind.SLICE:
        return []
    if generic:
        return None  # a struct, array or map not sent was a nil pointer
    if isinstance(t, Array):
        return [_zero(t.elem, False) for _ in range(t.length)]
    if isinstance(t, Struct):
        return _expect(t, {}, False)
    return None


def _expect(t: GoType, v: Any, generic: bool) -> Any:
    """What decoding the encoding of ``v`` gives (``generic``: without an expected type)."""
    t = strip_ptr(t)
    if isinstance(v, Typed):
        return _expect(v.type, v.value, False)
    if t.kind is Kind.INTERFACE:  # the registered name picks the type, generic or not
        return None if v is None else _expect(REGISTRY.infer(v), v, False)
    if t is FLOAT32 or t is COMPLEX64:
        return struct.unpack("<f", struct.pack("<f", v))[0] if t is FLOAT32 else v
    if is_bytes(t) or isinstance(t, Marshaler):
        return bytes(v)
    if isinstance(t, (Slice, Array)):
        return [_expect(t.elem, x, generic) for x in v]
    if isinstance(t, Map):
        return None if v is None else {k: _expect(t.elem, x, generic) for k, x in v.items()}
    if isinstance(t, Struct):
        get = v.get if isinstance(v, dict) else lambda name: getattr(v, name)
        out = {}
        for f in t.fields:
            x = get(f.name)
            out[f.attr] = (
                _zero(f.type, generic) if _omitted(f.type, x) else _expect(f.type, x, generic)
            )
        return t.cls(**out) if t.cls is not None and not generic else out
    return v


@st.composite
def typed_values(draw: st.DrawFn) -> tuple[GoType, Any]:
    t = draw(types)
    return t, draw(_values(t))


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} - {0, len(data)})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(typed_values(), st.lists(st.integers(0, 10**6), max_size=6))
def test_round_trip(tv: tuple[GoType, Any], cuts: list[int]) -> None:
    t, v = tv
    data = gob.Encoder(REGISTRY).encode(v, t)
    assert decode_all(data, t) == _expect(t, v, False)
    assert decode_all(data) == _expect(t, v, True)
    dec = gob.Decoder(REGISTRY)
    got = gob.NEED_DATA
    for chunk in _chunks(data, cuts):
        assert got is gob.NEED_DATA
        dec.feed(chunk)
        got = dec.next_value(t)
    assert got == _expect(t, v, False)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(typed_values(), min_size=1, max_size=4))
def test_stream_of_values(items: list[tuple[GoType, Any]]) -> None:
    """One stream: a type is defined once, later values of it are just its id."""
    enc, dec = gob.Encoder(REGISTRY), gob.Decoder(REGISTRY)
    for t, v in items * 2:
        dec.feed(enc.encode(v, t))
        assert dec.next_value(t) == _expect(t, v, False)
    assert dec.buffered == 0
    for t, v in items:  # every type is known by now: no definitions, one message
        (body,) = messages(enc.encode(v, t))
        assert Reader(bytearray(body), 0, len(body), 1 << 20, 10).read_int() >= 0


def test_definitions_sent_once_per_encoder() -> None:
    enc = gob.Encoder()
    first, second = enc.encode({"A": 1}, ARGS), enc.encode({"A": 1}, ARGS)
    assert first.endswith(second) and len(first) > len(second)
    assert second.hex() == "05ff80010200"


def test_dataclass_binding() -> None:
    data = gob.Encoder(REGISTRY).encode(Pt(3, -4), POINT)
    assert data == gob.Encoder().encode({"X": 3, "Y": -4}, POINT)
    assert decode_all(data, POINT) == Pt(3, -4)
    assert decode_all(data) == {"X": 3, "Y": -4}


def test_decoding_into_a_subset_or_superset_of_fields() -> None:
    """Go matches struct fields by name: unknown ones are skipped, missing ones stay zero."""
    wide = Struct("Wide", [("A", INT), ("Extra", Slice(MAP_STRING_ANY)), ("B", STRING)])
    narrow = Struct("Narrow", [("B", STRING), ("C", Ptr(INT)), ("D", Array(BOOL, 2))])
    data = gob.Encoder().encode({"A": 1, "Extra": [{"x": [1, 2]}], "B": "b"}, wide)
    assert decode_all(data, narrow) == {"B": "b", "C": None, "D": [False, False]}


# --- errors while encoding: typed, and nothing half-sent ---


@pytest.mark.parametrize(
    ("value", "t", "message"),
    [
        (300, INT8, "out of range"),
        (-1, UINT, "out of range"),
        (1, BOOL, "cannot encode int"),
        (True, INT, "cannot encode bool"),
        (b"x", STRING, "cannot encode bytes"),
        ("x", BYTES, "cannot encode str"),
        (1e39, FLOAT32, "out of range for Go float32"),
        ({"A": 1, "Nope": 2}, ARGS, r"has no field\(s\) Nope"),
        (None, Ptr(INT), "nil pointer"),
        ([None], Slice(Ptr(INT)), "nil element"),
        ([1, 2], Array(INT, 3), "need 3 items"),
        (object(), None, "cannot tell which Go type"),
        (None, None, "cannot encode nil value"),
        (Typed(Struct("Unregistered", []), {}), INTERFACE, "type not registered for interface"),
        ("\ud800", STRING, "cannot encode value"),
        ("abc", Slice(INT), "cannot encode str"),
        (None, ARGS, "nil pointer"),
    ],
)
def test_encode_errors(value: Any, t: GoType | None, message: str) -> None:
    with pytest.raises(GobEncodeError, match=message):
        gob.Encoder(REGISTRY).encode(value, t)


def test_failed_encode_sends_no_definitions() -> None:
    enc = gob.Encoder()
    nested = Struct("Outer", [("In", ARGS)])
    with pytest.raises(GobEncodeError):
        enc.encode_values(({"In": {"A": 1}}, nested), ({"In": {"A": "x"}}, nested))
    assert enc.encode({"In": {"A": 1}}, nested) == gob.Encoder().encode({"In": {"A": 1}}, nested)


def test_type_description_errors() -> None:
    with pytest.raises(GobEncodeError, match="exported"):
        Struct("S", [("lower", INT)])
    with pytest.raises(GobEncodeError, match="duplicate field"):
        Struct("S", [("A", INT), ("A", STRING)])
    s = Struct("S", [("A", INT)])
    with pytest.raises(GobEncodeError, match="already defined"):
        s.define([("B", INT)])
    with pytest.raises(GobEncodeError, match="no fields defined"):
        gob.Encoder().encode({}, Struct("Later"))
    with pytest.raises(GobEncodeError, match="name a struct"):
        gob.named("X", ARGS)
    registry = gob.Registry()
    registry.register(ARGS)
    with pytest.raises(GobEncodeError, match="duplicate types"):
        registry.register(Struct("Args2", []), "main.Args")
    with pytest.raises(GobEncodeError, match="duplicate names"):
        registry.register(ARGS, "other")
    assert gob.default_name(Ptr(POINT)) == "*main.Point"
    assert gob.default_name(Struct("Request", [], pkg="net/rpc")) == "net/rpc.Request"
    assert str(Map(STRING, Slice(Ptr(POINT)))) == "map[string][]*main.Point"
    assert str(Struct("", [("A", INT)])) == "struct { A int }"


# --- errors while decoding: Go's wording, and the stream goes on ---


def _encoded(value: Any, t: GoType) -> bytes:
    return gob.Encoder(REGISTRY).encode(value, t)


@pytest.mark.parametrize(
    ("data", "want", "message"),
    [
        (_encoded(300, INT), INT8, 'value for "int8" out of range'),
        (_encoded(70000, UINT), UINT16, 'value for "uint16" out of range'),
        (_encoded(1e300, FLOAT64), FLOAT32, "out of range"),
        (_encoded(1, INT), STRING, "decoding into local type string, received remote type int"),
        (_encoded(1, INT), Ptr(STRING), "local type \\*string, received remote type int"),
        (_encoded("x", STRING), INTERFACE, "local interface type interface {} can only be decoded"),
        (_encoded(1, INT), ARGS, "want struct type main.Args; got non-struct"),
        (_encoded({"A": 1}, ARGS), POINT, "no fields matched compiling decoder for main.Point"),
        (
            _encoded({"A": 1}, ARGS),
            Struct("Q", [("A", STRING)]),
            r"wrong type \(string\) for received field Args.A",
        ),
        (_encoded([1], Slice(INT)), Slice(STRING), "local type \\[\\]string, received remote type"),
        (_encoded([1, 2], Array(INT, 2)), Array(INT, 3), "received remote type"),
        (_encoded({"a": 1}, Map(STRING, INT)), Map(STRING, UINT), "received remote type"),
        (_encoded(b"x", Marshaler("T")), BYTES, "received remote type"),
    ],
)
def test_decode_type_errors(data: bytes, want: GoType, message: str) -> None:
    dec = gob.Decoder(REGISTRY)
    dec.feed(data + _encoded(5, INT))
    with pytest.raises(GobError, match=message):
        dec.next_value(want)
    assert dec.next_value(INT) == 5  # the stream goes on after a value that did not fit


def msg(*parts: bytes | int) -> bytes:
    """One gob message: ints are gob ints (type ids), bytes are copied."""
    body = bytearray()
    for part in parts:
        if isinstance(part, int):
            put_int(body, part)
        else:
            body += part
    out = bytearray()
    put_uint(out, len(body))
    return bytes(out + body)


def typedef(w: gob.WireType) -> bytes:
    body = bytearray()
    encode_wire_type(body, w)
    return msg(-w.id, bytes(body))


INTS = gob.WireType(Kind.SLICE, "", 64, elem=2)


def messages(data: bytes) -> list[bytes]:
    """The bodies of the messages in ``data``."""
    out, pos = [], 0
    while pos < len(data):
        start, end = frame_at(bytearray(data), pos, 1 << 30)
        out.append(data[start:end])
        pos = end
    return out


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (msg(b""), "unexpected end of message"),
        (msg(0), "unknown type id 0"),
        (msg(63, b"\x00"), "unknown type id 63"),  # never defined, and not builtin
        (msg(16, b"\x00"), "unknown type id 16"),  # wireType is not a value type
        (msg(2, b"\x01\x02"), "non-zero delta for singleton"),
        (msg(-64), "empty type definition"),
        (msg(-64, b"\x03\x01\x01"), "unexpected end of message"),
        (msg(-64, b"\x01\x01\x89"), "encoded unsigned integer out of range"),
        (msg(-64, b"\x08"), "field numbers out of bounds"),
        (msg(-64, b"\x01\x00\x01\x00\x00"), "more than one type"),
        (msg(-1, b"\x03\x00\x00"), "duplicate type received"),
        (typedef(INTS) + typedef(INTS), "duplicate type received"),
        (msg(-64, b"\x03\x00\x00\x07"), "extra data in buffer"),
        (msg(6, b"\x00\x05hel"), "invalid string length 5"),
        (
            typedef(gob.WireType(Kind.STRUCT, "S", 64, fields=(("", 2),))) + msg(64, b"\x00"),
            "empty name for remote field",
        ),
        (
            typedef(gob.WireType(Kind.SLICE, "", 64, elem=99)) + msg(64, b"\x00\x00"),
            "bad data: undefined type 99",
        ),
        (typedef(INTS) + msg(64, b"\x00\x02\x04"), "length exceeds input size"),
        (
            typedef(gob.WireType(Kind.ARRAY, "", 64, elem=2, length=2))
            + msg(64, b"\x00\x03\x02\x02\x02"),
            "length mismatch in decodeArray",
        ),
        (msg(8, b"\x00\x05mai"), "invalid type name length 5"),
        (bytes.fromhex("f9ffffffffffffffff"), "invalid message length"),
        (bytes.fromhex("8a"), "encoded unsigned integer out of range"),
    ],
)
def test_decode_malformed(data: bytes, message: str) -> None:
    dec = gob.Decoder()
    dec.feed(data)
    with pytest.raises(GobError, match=message):
        while dec.next_value() is not gob.NEED_DATA:
            pass


def test_message_limit_is_checked_before_waiting() -> None:
    dec = gob.Decoder(max_message_size=1000)
    dec.feed(bytes.fromhex("fe03e8"))  # announces 1000 bytes
    with pytest.raises(GobError, match="invalid message length"):
        dec.next_value()
    dec = gob.Decoder()
    dec.feed(bytes.fromhex("fc10000000") + b"\x00" * 10)  # 256 MiB announced, under the limit
    assert dec.next_value() is gob.NEED_DATA
    assert dec.buffered == 15  # nothing allocated for the announced size


def test_counts_are_not_trusted() -> None:
    """Huge counts in small messages fail before anything big is allocated."""
    big = bytearray()
    put_uint(big, 2**62)
    empty = Struct("E", [])
    cases = [
        (Slice(INT), b""),  # 2**62 ints
        (Map(STRING, INT), b""),
        (BYTES, b"ab"),
        (Map(INT, empty), b"\x02\x00"),  # one entry of two bytes
    ]
    tracemalloc.start()
    try:
        for t, tail in cases:
            *defs, value = messages(gob.Encoder().encode(None if t is not BYTES else b"", t))
            body = value[:-1] + bytes(big) + tail  # the count replaced
            dec = gob.Decoder()
            dec.feed(b"".join(msg(d) for d in defs) + msg(body))
            with pytest.raises(GobError, match="exceeds input size"):
                dec.next_value(t)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def _deep_node(levels: int) -> bytes:
    node = Struct("Node")
    node.define([("Next", Ptr(node))])
    value: dict[str, Any] = {}
    for _ in range(levels):
        value = {"Next": value}
    return gob.Encoder().encode(value, node)


def test_nesting_is_bounded() -> None:
    ok = gob.Decoder()
    ok.feed(_deep_node(150))
    assert ok.next_value() is not None
    dec = gob.Decoder(max_depth=50)
    dec.feed(_deep_node(60))
    with pytest.raises(GobError, match="nested more than 50 levels"):
        dec.next_value()
    # A chain of 400 slice types, each of the next: too deep to compile, refused before
    # Python's own stack runs out.
    chain = b"".join(
        typedef(gob.WireType(Kind.SLICE, "", tid, elem=tid + 1 if tid < 463 else 2))
        for tid in range(64, 464)
    )
    dec = gob.Decoder()
    dec.feed(chain + msg(64, b"\x00\x00"))
    with pytest.raises(GobError, match="types nested more than 200 levels"):
        dec.next_value()


# --- fuzzing: only typed errors, always progress ---


def _drain(dec: gob.Decoder, want: GoType | None) -> None:
    """Pull values until the decoder needs data: every error is a GobError, and each call
    either consumes bytes or stops (no endless loops)."""
    for _ in range(10_000):
        before = dec.buffered
        try:
            if dec.next_value(want) is gob.NEED_DATA:
                return
        except GobError:
            if dec.buffered == before:
                return  # a broken frame: the same error every time
    raise AssertionError("decoder did not converge")


_WANTS = st.sampled_from([None, INT, STRING, INTERFACE, ARGS, POINT, MAP_STRING_ANY, Slice(BYTES)])


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200), st.lists(st.integers(0, 300), max_size=8), _WANTS)
def test_fuzz_arbitrary_bytes(data: bytes, cuts: list[int], want: GoType | None) -> None:
    dec = gob.Decoder(REGISTRY, max_message_size=1 << 16)
    for chunk in _chunks(data, cuts):
        dec.feed(chunk)
        _drain(dec, want)
    assert dec.buffered <= len(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    typed_values(),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=4),
    st.booleans(),
)
def test_fuzz_mutated_streams(
    tv: tuple[GoType, Any], edits: list[tuple[int, int]], typed: bool
) -> None:
    """Valid streams with bytes changed, inserted or dropped: deep paths, still typed errors."""
    t, v = tv
    data = bytearray(gob.Encoder(REGISTRY).encode(v, t) * 2)
    for pos, byte in edits:
        pos %= len(data)
        if byte % 3 == 0:
            data[pos] = byte
        elif byte % 3 == 1:
            data.insert(pos, byte)
        else:
            del data[pos]
    dec = gob.Decoder(REGISTRY, max_message_size=1 << 16)
    dec.feed(bytes(data))
    _drain(dec, t if typed else None)
