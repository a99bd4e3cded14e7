"""Names for the concrete types that travel inside interface values (Go's gob.Register).

gob sends an ``interface{}`` value as its concrete type's registered name, then the value. Go
keeps one process-wide table; here a :class:`Registry` object plays that part (a default one is
shared), and also decides which Go type a plain Python value is sent as.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from goplugin.errors import GobEncodeError

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
    MAP_STRING_ANY,
    SLICE_ANY,
    STRING,
    UINT,
    UINT8,
    UINT16,
    UINT32,
    UINT64,
    UINTPTR,
    GoType,
    Slice,
    Struct,
    Typed,
    default_name,
    strip_ptr,
)

__all__ = ["DEFAULT_REGISTRY", "Registry"]

# What Go's gob registers at init (registerBasics), plus the two shapes Python's dict and list
# are inferred as. Go needs those two registered on its side too (gob.Register) to decode them.
_BASICS: tuple[GoType, ...] = (
    INT, INT8, INT16, INT32, INT64, UINT, UINT8, UINT16, UINT32, UINT64, FLOAT32, FLOAT64,
    COMPLEX64, COMPLEX128, UINTPTR, BOOL, STRING, BYTES,
    *(Slice(t) for t in (INT, INT8, INT16, INT32, INT64, UINT, UINT16, UINT32, UINT64,
                         FLOAT32, FLOAT64, COMPLEX64, COMPLEX128, UINTPTR, BOOL, STRING)),
    MAP_STRING_ANY, SLICE_ANY,
)  # fmt: skip

_INFERRED: dict[type, GoType] = {
    bool: BOOL,
    int: INT,
    float: FLOAT64,
    complex: COMPLEX128,
    str: STRING,
    bytes: BYTES,
    bytearray: BYTES,
    memoryview: BYTES,
    dict: MAP_STRING_ANY,
    list: SLICE_ANY,
    tuple: SLICE_ANY,
}


class Registry:
    """Names of the concrete types that travel inside interface values (Go's gob.Register).

    gob sends an interface value as the concrete type's registered name plus the value; both
    sides must agree on names. The default registry holds Go's predeclared registrations;
    decoding an unregistered name still works here (the wire type describes the value), it just
    yields generic Python values.
    """

    __slots__ = ("_by_class", "_by_name", "_by_type", "_lock")

    def __init__(self, *, basics: bool = True):
        # Shared by every Encoder and Decoder using this registry, in any thread (the default
        # one by all of them). Lookups (once per interface value) read the dicts without a
        # lock: single dict reads are atomic. Writers (register, copy) hold _lock, so checking
        # a name and claiming it is one step and the three dicts never disagree for long
        # enough to let a second type in under a taken name.
        self._lock = threading.Lock()
        self._by_name: dict[str, GoType] = {}
        self._by_type: dict[GoType, bytes] = {}
        self._by_class: dict[type, GoType] = {}
        if basics:
            for t in _BASICS:
                self.register(t)

    def register(self, t: GoType, name: str | None = None) -> str:
        """Register ``t`` under ``name`` (default: Go's gob.Register naming); returns the name."""
        name = default_name(t) if name is None else name
        if not name:
            raise GobEncodeError("the empty name is reserved for nil interface values")
        base = strip_ptr(t)
        with self._lock:
            old = self._by_name.get(name)
            if old is not None and strip_ptr(old) != base:
                raise GobEncodeError(f"gob: registering duplicate types for {name!r}: {old} != {t}")
            old_name = self._by_type.get(base)
            if old_name is not None and old_name != name.encode():
                raise GobEncodeError(
                    f"gob: registering duplicate names for {t}: {old_name!r} != {name!r}"
                )
            self._by_name[name] = t
            self._by_type[base] = name.encode()
            if isinstance(base, Struct) and base.cls is not None:
                self._by_class[base.cls] = t
        return name

    def lookup(self, name: str) -> GoType | None:
        """The type registered under ``name``, if any."""
        return self._by_name.get(name)

    def name_of(self, t: GoType) -> bytes | None:
        """The registered name of ``t`` (pointers ignored, as in Go), UTF-8 encoded."""
        return self._by_type.get(strip_ptr(t))

    def infer(self, value: Any) -> GoType:
        """The Go type a plain Python value is sent as inside an ``interface{}``."""
        t = _INFERRED.get(type(value))
        if t is not None:
            return t
        if isinstance(value, Typed):
            return value.type
        t = self._by_class.get(type(value))
        if t is not None:
            return t
        for py, go in _INFERRED.items():  # subclasses (IntEnum, OrderedDict, ...)
            if isinstance(value, py):
                return go
        if isinstance(value, Mapping):
            return MAP_STRING_ANY
        if value is None:
            raise GobEncodeError("gob: cannot encode nil value")
        raise GobEncodeError(
            f"cannot tell which Go type to send a {type(value).__name__} as; "
            "give the type, or wrap the value in Typed(type, value)"
        )

    def copy(self) -> Registry:
        new = Registry(basics=False)
        with self._lock:
            new._by_name = dict(self._by_name)
            new._by_type = dict(self._by_type)
            new._by_class = dict(self._by_class)
        return new


#: The registry encoders and decoders use unless given one (Go's process-wide table).
DEFAULT_REGISTRY = Registry()
