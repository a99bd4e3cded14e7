"""Python builtins where gob wants a Go type: what users write first, made to work.

``client.call("Plugin.Greet", None, str)`` is the natural first try. As a type to *send*, a
builtin stands for the Go type a value of it is inferred as (``str`` → ``string``, ``dict`` →
``map[string]interface {}``). As a type to *receive*, it takes whatever Go type decodes to it
generically (``int``: any Go integer, ``list``: any slice or array, ``dict``: any map or
struct, ``bytes``: ``[]byte`` or a GobEncoder's bytes), as a Go method may reply with any of
them. Anything else gets an error that says what to write instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from goplugin.errors import GobError, GobTypeError

from ._gobtypes import BOOL, BYTES, FLOAT64, INT, MAP_STRING_ANY, SLICE_ANY, STRING, GoType, Kind
from ._gobwire import (
    BOOL_ID,
    BYTES_ID,
    COMPLEX_ID,
    FLOAT_ID,
    INT_ID,
    INTERFACE_ID,
    STRING_ID,
    UINT_ID,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._gobwire import Reader, WireType

__all__ = ["PYTHON_TYPES", "builtin_reader", "describe_non_type", "go_type", "not_a_go_type"]

#: The Go type each Python builtin stands for as a type to send (a call's ``args_type``).
PYTHON_TYPES: dict[type, GoType] = {
    str: STRING,
    bytes: BYTES,
    int: INT,
    float: FLOAT64,
    bool: BOOL,
    list: SLICE_ANY,
    dict: MAP_STRING_ANY,
}

# What generic decoding makes of each wire type: a builtin accepts the wire types that give it.
_PYTHON_OF_ID: dict[int, type] = {
    BOOL_ID: bool,
    INT_ID: int,
    UINT_ID: int,
    FLOAT_ID: float,
    BYTES_ID: bytes,
    STRING_ID: str,
    COMPLEX_ID: complex,
}
_PYTHON_OF_KIND: dict[Kind, type] = {
    Kind.SLICE: list,
    Kind.ARRAY: list,
    Kind.MAP: dict,
    Kind.STRUCT: dict,
    Kind.MARSHALER: bytes,
}

_HINTS: dict[type, str] = {
    str: "gob.STRING",
    bytes: "gob.BYTES",
    int: "gob.INT (or INT64, UINT32, ...)",
    float: "gob.FLOAT64 (or FLOAT32)",
    bool: "gob.BOOL",
    list: "gob.Slice(elem) (or SLICE_ANY)",
    dict: "gob.Map(key, elem) (or MAP_STRING_ANY), or a gob.Struct",
}


def go_type(t: object, what: str = "type") -> GoType:
    """``t`` itself if it is a descriptor, the Go type a Python builtin stands for, or
    :class:`GobTypeError`."""
    if isinstance(t, GoType):
        return t
    found = PYTHON_TYPES.get(t) if isinstance(t, type) else None
    if found is None:
        raise not_a_go_type(what, t)
    return found


def not_a_go_type(what: str, t: object) -> GobTypeError:
    """The error for ``t`` given where a Go type (or a builtin standing for one) belongs."""
    return GobTypeError(
        f"{what}: {describe_non_type(t)}; give a gob type, or one of "
        "str, bytes, int, float, bool, list, dict"
    )


def describe_non_type(t: object) -> str:
    if isinstance(t, type) and t in _HINTS:
        return f"{t!r} is not a Go type description; for {t.__name__} use {_HINTS[t]}"
    return f"{t!r} is not a Go type description (see goplugin.netrpc.gob)"


def builtin_reader(
    want: type,
    tid: int,
    wire: WireType | None,
    generic: Callable[[Reader], Any],
    remote: Callable[[int], str],
) -> Callable[[Reader], Any]:
    """The reader of wire type ``tid`` into the builtin ``want``: the generic reader when the
    wire type decodes to it; for an ``interface{}`` a check once its value is known; otherwise
    :class:`GobError` now (``remote`` names the wire type, Go's way)."""
    if tid == INTERFACE_ID:

        def checked(r: Reader) -> Any:
            value = generic(r)
            if type(value) is not want:
                got = "a nil interface" if value is None else type(value).__name__
                raise GobError(
                    f"gob: decoding into Python {want.__name__}, received remote type "
                    f"interface holding {got}"
                )
            return value

        return checked
    got = _PYTHON_OF_ID.get(tid) if wire is None else _PYTHON_OF_KIND.get(wire.kind)
    if got is not want:
        raise GobError(
            f"gob: decoding into Python {want.__name__}, received remote type {remote(tid)}"
        )
    return generic
