"""Go's encoding/gob in Python, sans-IO: the names the net/rpc layer and its users need.

Usage (one Encoder and one Decoder per stream direction, as gob streams are stateful)::

    from goplugin.netrpc import _gob as gob

    Args = gob.Struct("Args", [("A", gob.INT), ("B", gob.INT)])
    data = gob.Encoder().encode({"A": 7, "B": 8}, Args)      # bytes to write

    dec = gob.Decoder()
    dec.feed(data)                                           # bytes as they arrive
    value = dec.next_value(Args)                             # or gob.NEED_DATA
    value = dec.next_value()                                 # no type: generic values

Structs decode to dicts keyed by Go field name (or to ``cls`` instances when the Struct was
given one), because a dict needs no declaration on the Python side and mirrors what Go sends
(only the named fields); binding a dataclass is opt-in for typed code.
"""

from __future__ import annotations

from ._gobdec import NEED_DATA, Decoder
from ._gobenc import Encoder
from ._gobregistry import DEFAULT_REGISTRY, Registry
from ._gobtypes import (
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
    SLICE_ANY,
    STRING,
    UINT,
    UINT8,
    UINT16,
    UINT32,
    UINT64,
    UINTPTR,
    Array,
    Basic,
    Field,
    GoType,
    Interface,
    Kind,
    Map,
    Marshaler,
    Ptr,
    Slice,
    Struct,
    Typed,
    default_name,
    named,
)
from ._gobwire import TOO_BIG, WireType

__all__ = [
    "BOOL",
    "BYTES",
    "COMPLEX64",
    "COMPLEX128",
    "DEFAULT_REGISTRY",
    "FLOAT32",
    "FLOAT64",
    "INT",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "INTERFACE",
    "MAP_STRING_ANY",
    "NEED_DATA",
    "SLICE_ANY",
    "STRING",
    "TOO_BIG",
    "UINT",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "UINTPTR",
    "Array",
    "Basic",
    "Decoder",
    "Encoder",
    "Field",
    "GoType",
    "Interface",
    "Kind",
    "Map",
    "Marshaler",
    "Ptr",
    "Registry",
    "Slice",
    "Struct",
    "Typed",
    "WireType",
    "default_name",
    "named",
    "register",
]


def register(t: GoType, name: str | None = None) -> str:
    """Register ``t`` in the default registry (Go's ``gob.Register``/``RegisterName``)."""
    return DEFAULT_REGISTRY.register(t, name)
