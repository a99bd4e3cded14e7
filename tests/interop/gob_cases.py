"""The Python side of examples-go/testprogs/gobvectors' case table: same names, same values.

Each case gives the Go type as a descriptor, the Python value to encode (what Go encodes), and
what decoding Go's bytes into that type must give when it differs (gob drops pointers to zero
values, float32 rounds, interface values lose their ``Typed`` wrapper...).
"""

from __future__ import annotations

import struct
from dataclasses import asdict, dataclass, is_dataclass
from typing import Any

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
    Map,
    Marshaler,
    Ptr,
    Slice,
    Struct,
    Typed,
    named,
)


@dataclass
class Pt:
    """main.Point, bound to a class: decodes to Pt, and a Pt in an interface{} is a main.Point."""

    X: int
    Y: int


Point = Struct("Point", [("X", INT), ("Y", INT)], cls=Pt)
Args = Struct("Args", [("A", INT), ("B", INT)])
Shape = Struct(
    "Shape",
    [
        ("Name", STRING),
        ("Center", Point),
        ("Corners", Slice(Point)),
        ("Origin", Ptr(Point)),
        ("Tags", Map(STRING, Point)),
        ("Grid", Array(Point, 2)),
    ],
)
AllKinds = Struct(
    "AllKinds",
    [
        ("B", BOOL),
        ("I", INT),
        ("I8", INT8),
        ("I16", INT16),
        ("I32", INT32),
        ("I64", INT64),
        ("U", UINT),
        ("U8", UINT8),
        ("U16", UINT16),
        ("U32", UINT32),
        ("U64", UINT64),
        ("Uptr", UINTPTR),
        ("F32", FLOAT32),
        ("F64", FLOAT64),
        ("C64", COMPLEX64),
        ("C128", COMPLEX128),
        ("S", STRING),
        ("Bs", BYTES),
    ],
)
Base = Struct("Base", [("ID", INT), ("Name", STRING)])
Derived = Struct("Derived", [("Base", Base), ("Extra", STRING)])  # embedded: a field named Base
Ptrs = Struct(
    "Ptrs",
    [
        ("PI", Ptr(INT)),
        ("PS", Ptr(STRING)),
        ("PZ", Ptr(INT)),
        ("PNil", Ptr(INT)),
        ("PP", Ptr(Ptr(INT))),
        ("PStruct", Ptr(Point)),
    ],
)
Node = Struct("Node")
Node.define([("Val", INT), ("Next", Ptr(Node))])
Tree = Struct("Tree")
Tree.define([("Name", STRING), ("Kids", Slice(Tree))])
Holder = Struct("Holder", [("V", INTERFACE), ("W", INTERFACE)])
MyInt = named("MyInt", INT)
Names = named("Names", Slice(STRING))
Table = named("Table", Map(STRING, INT))
Matrix = named("Matrix", Array(Array(INT, 2), 2))
MyBytes = named("MyBytes", BYTES)
Defs = Struct(
    "Defs",
    [
        ("I", MyInt),
        ("C", named("Celsius", FLOAT64)),
        ("N", Names),
        ("T", Table),
        ("M", Matrix),
        ("F", named("Flag", BOOL)),
        ("L", named("Label", STRING)),
        ("B", MyBytes),
    ],
)
Funcs = Struct("Funcs", [("N", INT)])  # Go's chan and func fields are never sent
GobThing = Marshaler("GobThing")
BinThing = Marshaler("BinThing", method="binary")
WithThings = Struct("WithThings", [("G", GobThing), ("B", BinThing), ("N", INT)])

#: What the Go program registers with gob.Register (map[string]interface{} and []interface{}
#: are in every Registry already).
REGISTRY = gob.Registry()
REGISTRY.register(Point)

_SAME = object()


@dataclass(frozen=True)
class Case:
    type: gob.GoType
    value: Any
    decoded: Any = _SAME
    unordered: bool = False

    @property
    def want(self) -> Any:
        return self.value if self.decoded is _SAME else self.decoded


def f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]  # type: ignore[no-any-return]


def plain(v: Any) -> Any:
    """``v`` with class-bound structs as dicts: what decoding without a type gives."""
    if is_dataclass(v) and not isinstance(v, type):
        return asdict(v)
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


P00 = Pt(0, 0)
CASES: dict[str, Case] = {
    "bool_true": Case(BOOL, True),
    "bool_false": Case(BOOL, False),
    "int_0": Case(INT, 0),
    "int_1": Case(INT, 1),
    "int_neg1": Case(INT, -1),
    "int_129": Case(INT, 129),
    "int_min": Case(INT, -(2**63)),
    "int_max": Case(INT, 2**63 - 1),
    "int8_min": Case(INT8, -128),
    "int16": Case(INT16, -12345),
    "int32_max": Case(INT32, 2**31 - 1),
    "int64": Case(INT64, 1 << 40),
    "uint_0": Case(UINT, 0),
    "uint_127": Case(UINT, 127),
    "uint_128": Case(UINT, 128),
    "uint_256": Case(UINT, 256),
    "uint64_max": Case(UINT64, 2**64 - 1),
    "uint8": Case(UINT8, 255),
    "uint16": Case(UINT16, 65535),
    "uint32": Case(UINT32, 1),
    "uintptr": Case(UINTPTR, 0xDEADBEEF),
    "float64_0": Case(FLOAT64, 0.0),
    "float64_1_5": Case(FLOAT64, 1.5),
    "float64_neg": Case(FLOAT64, -2.25),
    "float64_pi": Case(FLOAT64, 3.141592653589793),
    "float64_inf": Case(FLOAT64, float("inf")),
    "float64_neginf": Case(FLOAT64, float("-inf")),
    "float64_tiny": Case(FLOAT64, 5e-324),
    "float64_big": Case(FLOAT64, 1e308),
    "float32": Case(FLOAT32, 0.1, f32(0.1)),
    "float32_big": Case(FLOAT32, 3.4e38, f32(3.4e38)),
    "complex128": Case(COMPLEX128, 1.5 - 2j),
    "complex64": Case(COMPLEX64, 0.5 + 0.25j),
    "string_empty": Case(STRING, ""),
    "string_hello": Case(STRING, "hello"),
    "string_unicode": Case(STRING, "héllo, 世界 ✓"),
    "string_invalid_utf8": Case(STRING, b"\xff\xfeab".decode("utf-8", "surrogateescape")),
    "string_long": Case(STRING, "x" * 300),
    "bytes_nil": Case(BYTES, b""),
    "bytes": Case(BYTES, b"\x00\x01\x02\xff"),
    "bytes_300": Case(BYTES, b"\x07" * 300),
    "slice_int": Case(Slice(INT), [1, -2, 3]),
    "slice_string": Case(Slice(STRING), ["a", "", "c"]),
    "slice_bool": Case(Slice(BOOL), [True, False]),
    "slice_float64": Case(Slice(FLOAT64), [1.5, 0.0, -1.0]),
    "slice_nil": Case(Slice(INT), []),
    "slice_slice_int": Case(Slice(Slice(INT)), [[1], [], [2, 3]]),
    "slice_bytes": Case(Slice(BYTES), [b"a", b""]),
    "slice_array": Case(Slice(Array(INT, 2)), [[1, 2], [3, 4]]),
    "array_int": Case(Array(INT, 3), [1, 2, 3]),
    "array_string": Case(Array(STRING, 2), ["x", ""]),
    "array_byte": Case(Array(UINT8, 4), [1, 2, 3, 4]),
    "array_empty": Case(Array(INT, 0), []),
    "map_string_int_1": Case(Map(STRING, INT), {"a": 1}),
    "map_string_int_3": Case(Map(STRING, INT), {"a": 1, "b": 2, "c": 3}, unordered=True),
    "map_int_string": Case(Map(INT, STRING), {-1: "minus one"}),
    "map_empty": Case(Map(STRING, INT), {}),
    "map_string_slice": Case(Map(STRING, Slice(STRING)), {"k": ["a", "b"]}),
    "map_array_key": Case(Map(Array(INT, 2), STRING), {(1, 2): "x"}),
    "map_string_iface": Case(MAP_STRING_ANY, {"key": "hello"}),
    "map_put_args": Case(MAP_STRING_ANY, {"key": "hello", "value": b"world"}, unordered=True),
    "struct_args": Case(Args, {"A": 7, "B": 8}),
    "struct_zero": Case(Args, {"A": 0, "B": 0}),
    "struct_empty": Case(Struct("", []), {}),
    "struct_all_kinds": Case(
        AllKinds,
        {
            "B": True,
            "I": -1,
            "I8": -8,
            "I16": 16,
            "I32": -32,
            "I64": 1 << 62,
            "U": 1,
            "U8": 8,
            "U16": 16,
            "U32": 32,
            "U64": 2**64 - 1,
            "Uptr": 99,
            "F32": 1.25,
            "F64": -0.5,
            "C64": 1 + 2j,
            "C128": -3 + 4j,
            "S": "s",
            "Bs": b"\x01\x02",
        },
    ),
    "struct_nested": Case(
        Shape,
        {
            "Name": "sq",
            "Center": Pt(1, 2),
            "Corners": [P00, Pt(2, 4)],
            "Origin": Pt(-1, -1),
            "Tags": {"t": Pt(5, 6)},
            "Grid": [Pt(1, 1), P00],
        },
    ),
    "struct_nested_zero": Case(
        Shape,
        {
            "Name": "",
            "Center": P00,
            "Corners": [],
            "Origin": None,
            "Tags": None,
            "Grid": [P00, P00],
        },
    ),
    "struct_embedded": Case(Derived, {"Base": {"ID": 3, "Name": "base"}, "Extra": "extra"}),
    "struct_ptrs": Case(
        Ptrs,
        {"PI": 5, "PS": "hi", "PZ": 0, "PNil": None, "PP": 5, "PStruct": P00},
        {"PI": 5, "PS": "hi", "PZ": None, "PNil": None, "PP": 5, "PStruct": P00},
    ),
    "struct_recursive": Case(
        Node, {"Val": 1, "Next": {"Val": 2, "Next": {"Val": 3, "Next": None}}}
    ),
    "struct_tree": Case(
        Tree,
        {
            "Name": "root",
            "Kids": [
                {"Name": "a", "Kids": []},
                {"Name": "b", "Kids": [{"Name": "c", "Kids": []}]},
            ],
        },
    ),
    "struct_defs": Case(
        Defs,
        {
            "I": 7,
            "C": 21.5,
            "N": ["n"],
            "T": {"t": 1},
            "M": [[1, 2], [3, 4]],
            "F": True,
            "L": "l",
            "B": b"b",
        },
    ),
    "struct_funcs": Case(Funcs, {"N": 3}),
    "struct_iface_string": Case(Holder, {"V": "str", "W": None}),
    "struct_iface_point": Case(
        Holder, {"V": Pt(1, 2), "W": Typed(INT32, 5)}, {"V": Pt(1, 2), "W": 5}
    ),
    "struct_iface_nested": Case(
        Holder,
        {
            "V": {"n": ["x", 1.5, {"deep": Pt(7, 8)}]},
            "W": Typed(Slice(STRING), ["w"]),
        },
        {"V": {"n": ["x", 1.5, {"deep": Pt(7, 8)}]}, "W": ["w"]},
    ),
    "struct_marshalers": Case(WithThings, {"G": b"G:g", "B": b"B:b", "N": 1}),
    "defined_int": Case(MyInt, -3),
    "defined_slice": Case(Names, ["a", "b"]),
    "defined_map": Case(Table, {"k": 2}),
    "defined_array": Case(Matrix, [[1, 2], [3, 4]]),
    "defined_bytes": Case(MyBytes, b"xyz"),
    "ptr_int": Case(Ptr(INT), 5),
    "ptr_struct": Case(Ptr(Point), Pt(3, 4)),
    "iface_nil": Case(INTERFACE, None),
    "iface_string": Case(INTERFACE, "hello"),
    "iface_bytes": Case(INTERFACE, b"world"),
    "iface_int": Case(INTERFACE, 42),
    "iface_int32": Case(INTERFACE, Typed(INT32, -7), -7),
    "iface_uint8": Case(INTERFACE, Typed(UINT8, 3), 3),
    "iface_float64": Case(INTERFACE, 2.5),
    "iface_bool": Case(INTERFACE, True),
    "iface_complex128": Case(INTERFACE, 1 + 1j),
    "iface_point": Case(INTERFACE, Pt(1, 2)),
    "iface_ptr_point": Case(INTERFACE, Typed(Ptr(Point), Pt(3, 4)), Pt(3, 4)),
    "iface_slice_string": Case(INTERFACE, Typed(Slice(STRING), ["a"]), ["a"]),
    "iface_map": Case(INTERFACE, {"a": "b"}),
    "iface_slice_iface": Case(INTERFACE, ["x", 1, None]),
    "iface_nested": Case(
        INTERFACE,
        {"inner": {"deep": [Typed(INT64, 1), Pt(5, 6)]}},
        {"inner": {"deep": [1, Pt(5, 6)]}},
    ),
    "gobencoder": Case(GobThing, b"G:abc"),
    "binarymarshaler": Case(BinThing, b"B:xyz"),
}

#: Decoding without a type cannot know a field was a pointer: absent scalars read as zero.
GENERIC_OVERRIDES: dict[str, Any] = {
    "struct_ptrs": {"PI": 5, "PS": "hi", "PZ": 0, "PNil": 0, "PP": 5, "PStruct": {"X": 0, "Y": 0}},
}
