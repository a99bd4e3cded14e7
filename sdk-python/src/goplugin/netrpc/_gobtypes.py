"""Go types described in Python, precisely enough for gob.

gob's wire format follows Go's *static* types, which Python values cannot carry: ``int`` and
``uint`` are different encodings, ``[]byte`` is not ``string``, a struct is sent as numbered
fields of a named type, and an ``interface{}`` value carries the *registered name* of its concrete
type. So the caller describes the Go type next to the value: ``Struct("Args", [("A", INT)])``,
``Slice(STRING)``, ``Map(STRING, INTERFACE)``. Descriptors are immutable and compare by structure
(like Go's unnamed types), except :class:`Struct`, which is nominal (compared by identity) so it
can be recursive.

The Python side of each Go value: bool, int, float, complex, str, bytes, list (slices and arrays;
tuples are accepted when encoding), dict (maps, and structs keyed by Go field name, or instances
of a class bound with ``Struct(..., cls=...)``), ``None`` for nil pointers/maps/interfaces.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from goplugin.errors import GobEncodeError, GobTypeError

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "BOOL",
    "BYTES",
    "COMPLEX64",
    "COMPLEX128",
    "FLOAT32",
    "FLOAT64",
    "INT",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "INTERFACE",
    "MAP_STRING_ANY",
    "SLICE_ANY",
    "STRING",
    "UINT",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "UINTPTR",
    "Array",
    "Basic",
    "Field",
    "GoType",
    "Interface",
    "Kind",
    "Map",
    "Marshaler",
    "Ptr",
    "Slice",
    "Struct",
    "Typed",
    "default_name",
    "is_bytes",
    "named",
    "strip_ptr",
]


class Kind(enum.Enum):
    """What gob does with a type (Go's reflect kinds, folded the way gob folds them)."""

    BOOL = "bool"
    INT = "int"
    UINT = "uint"
    FLOAT = "float"
    COMPLEX = "complex"
    STRING = "string"
    INTERFACE = "interface"
    SLICE = "slice"
    ARRAY = "array"
    MAP = "map"
    STRUCT = "struct"
    PTR = "ptr"
    MARSHALER = "marshaler"


def _qualified(pkg: str, name: str) -> str:
    """Go's reflect String() of a named type: the package *name* (last path element) + name."""
    return f"{pkg.rsplit('/', 1)[-1]}.{name}" if pkg else name


def _check_part(what: str, t: object) -> None:
    """Descriptors hold descriptors: ``Slice(str)`` is refused where it is written, not when
    a value of it is first encoded or decoded (on a connection's reader thread)."""
    if not isinstance(t, GoType):
        from ._gobpytypes import describe_non_type

        raise GobTypeError(f"{what}: {describe_non_type(t)}")


class GoType:
    """Base of the type descriptors. ``name``/``pkg`` are Go's reflect Name()/PkgPath()."""

    __slots__ = ()
    kind: Kind
    name: str
    pkg: str

    @property
    def go_string(self) -> str:
        """Go's reflect String(): what Go prints, and what gob uses for unnamed type names."""
        raise NotImplementedError

    def __str__(self) -> str:
        return self.go_string


class _Structural(GoType):
    """Types equal by structure (Go's unnamed types, and named ones by name and package).

    They key the encoders' and decoders' caches on every value sent, so the hash is computed
    once (a dataclass's would rehash every field, enums included, on each lookup). Threads may
    race to cache it: they all store the same number.
    """

    __slots__ = ("_hash",)

    def _key(self) -> tuple[Any, ...]:
        return tuple([getattr(self, name) for name in self.__dataclass_fields__])  # type: ignore[attr-defined]

    def __eq__(self, other: object) -> bool:
        return self is other or (type(other) is type(self) and self._key() == other._key())

    def __hash__(self) -> int:
        try:
            return self._hash  # type: ignore[attr-defined,no-any-return]
        except AttributeError:
            h = hash((type(self), self._key()))
            object.__setattr__(self, "_hash", h)
            return h


@dataclass(frozen=True, slots=True, eq=False)
class Basic(_Structural):
    """bool, the integer, float and complex types, string; or a type defined on one of them."""

    kind: Kind
    bits: int
    name: str
    pkg: str = ""

    @property
    def go_string(self) -> str:
        return _qualified(self.pkg, self.name)


@dataclass(frozen=True, slots=True, eq=False)
class Interface(_Structural):
    """An interface type; unnamed means ``interface {}`` (``any``)."""

    name: str = ""
    pkg: str = ""
    kind: Kind = field(default=Kind.INTERFACE, init=False, repr=False)

    @property
    def go_string(self) -> str:
        return _qualified(self.pkg, self.name) if self.name else "interface {}"


@dataclass(frozen=True, slots=True, eq=False)
class Slice(_Structural):
    """``[]elem``. A slice of a uint8 type is gob's ``bytes`` (Python :class:`bytes`)."""

    elem: GoType
    name: str = ""
    pkg: str = ""
    kind: Kind = field(default=Kind.SLICE, init=False, repr=False)

    def __post_init__(self) -> None:
        _check_part("slice element", self.elem)

    @property
    def go_string(self) -> str:
        return _qualified(self.pkg, self.name) if self.name else "[]" + self.elem.go_string


@dataclass(frozen=True, slots=True, eq=False)
class Array(_Structural):
    """``[length]elem``; Python lists (or tuples) of exactly ``length`` items."""

    elem: GoType
    length: int
    name: str = ""
    pkg: str = ""
    kind: Kind = field(default=Kind.ARRAY, init=False, repr=False)

    def __post_init__(self) -> None:
        _check_part("array element", self.elem)
        if self.length < 0:
            raise GobEncodeError(f"array length must not be negative: {self.length}")

    @property
    def go_string(self) -> str:
        if self.name:
            return _qualified(self.pkg, self.name)
        return f"[{self.length}]{self.elem.go_string}"


@dataclass(frozen=True, slots=True, eq=False)
class Map(_Structural):
    """``map[key]elem``; Python dicts. ``None`` is a nil map (omitted in structs)."""

    key: GoType
    elem: GoType
    name: str = ""
    pkg: str = ""
    kind: Kind = field(default=Kind.MAP, init=False, repr=False)

    def __post_init__(self) -> None:
        _check_part("map key", self.key)
        _check_part("map element", self.elem)

    @property
    def go_string(self) -> str:
        if self.name:
            return _qualified(self.pkg, self.name)
        return f"map[{self.key.go_string}]{self.elem.go_string}"


@dataclass(frozen=True, slots=True, eq=False)
class Ptr(_Structural):
    """``*elem``. gob flattens pointers: the value is elem's, ``None`` is nil."""

    elem: GoType
    name: str = field(default="", init=False, repr=False)
    pkg: str = field(default="", init=False, repr=False)
    kind: Kind = field(default=Kind.PTR, init=False, repr=False)

    def __post_init__(self) -> None:
        _check_part("pointer element", self.elem)

    @property
    def go_string(self) -> str:
        return "*" + self.elem.go_string


@dataclass(frozen=True, slots=True, eq=False)
class Marshaler(_Structural):
    """A named type that marshals itself (GobEncoder, BinaryMarshaler, TextMarshaler).

    gob sends such values as opaque bytes produced by the Go method, so the Python value is the
    :class:`bytes` the Go side's ``GobEncode``/``MarshalBinary`` returns or ``GobDecode``/
    ``UnmarshalBinary`` accepts.
    """

    name: str
    pkg: str = "main"
    method: Literal["gob", "binary", "text"] = "gob"
    kind: Kind = field(default=Kind.MARSHALER, init=False, repr=False)

    @property
    def go_string(self) -> str:
        return _qualified(self.pkg, self.name)


class Field(NamedTuple):
    """A struct field as gob sends it: its Go name, its type, the Python attribute/key."""

    name: str
    type: GoType
    attr: str


FieldSpec = Field | tuple[str, GoType] | tuple[str, GoType, str]

# Struct.define's check-and-set: a struct's fields are set once, by one thread; readers of
# ``fields`` need no lock (the tuple is stored whole).
_DEFINE_LOCK = threading.Lock()


class Struct(GoType):
    """A struct type, nominal like Go's named types (equal only to itself).

    ``fields`` lists the fields gob sends (exported, not chan/func), in declaration order; an
    embedded struct is a field named after its type, as gob sends it. Decoded values are dicts
    keyed by field name, or instances of ``cls`` (constructed with one keyword per field,
    ``attr`` defaulting to the Go name). For recursive types create the struct first and give
    the fields with :meth:`define`.
    """

    __slots__ = ("_fields", "cls", "name", "pkg")
    kind = Kind.STRUCT

    def __init__(
        self,
        name: str = "",
        fields: Iterable[FieldSpec] | None = None,
        *,
        pkg: str = "main",
        cls: type | None = None,
    ):
        self.name = name
        self.pkg = pkg if name else ""
        self.cls = cls
        self._fields: tuple[Field, ...] | None = None
        if fields is not None:
            self.define(fields)

    def define(self, fields: Iterable[FieldSpec]) -> Struct:
        """Set the fields once (after creation, so they can refer to the struct itself)."""
        if self._fields is not None:
            raise GobEncodeError(f"struct {self.go_string} is already defined")
        out: list[Field] = []
        seen: set[str] = set()
        for spec in fields:
            if isinstance(spec, Field):
                f = spec
            elif len(spec) == 2:  # (name, type): the Python attribute/key is the Go name
                f = Field(spec[0], spec[1], spec[0])
            else:
                f = Field(spec[0], spec[1], spec[2])
            _check_part(f"field {f.name!r}", f.type)
            if not f.name[:1].isupper():
                raise GobEncodeError(f"gob only sends exported fields; {f.name!r} is not")
            if f.name in seen:
                raise GobEncodeError(f"duplicate field {f.name!r} in struct {self.go_string}")
            seen.add(f.name)
            out.append(f)
        with _DEFINE_LOCK:  # two threads defining one struct: exactly one wins
            if self._fields is not None:
                raise GobEncodeError(f"struct {self.go_string} is already defined")
            self._fields = tuple(out)
        return self

    @property
    def fields(self) -> tuple[Field, ...]:
        if self._fields is None:
            raise GobEncodeError(f"struct {self.name or '(anonymous)'} has no fields defined yet")
        return self._fields

    @property
    def go_string(self) -> str:
        if self.name:
            return _qualified(self.pkg, self.name)
        if not self.fields:
            return "struct {}"
        return "struct { " + "; ".join(f"{f.name} {f.type.go_string}" for f in self.fields) + " }"

    def __repr__(self) -> str:
        return f"Struct({self.go_string!r})"


class Typed(NamedTuple):
    """A value for an ``interface{}`` slot, with the Go type to send it as.

    Needed when inference (bool→bool, int→int, float→float64, str→string, bytes→[]uint8,
    dict→map[string]interface {}, list→[]interface {}) would pick the wrong Go type.
    """

    type: GoType
    value: Any


def strip_ptr(t: GoType) -> GoType:
    """The pointed-to type, all pointer levels removed: gob never sends pointers themselves."""
    while isinstance(t, Ptr):
        t = t.elem
    return t


def is_bytes(t: GoType) -> bool:
    """Whether gob sends ``t`` as ``bytes``: a slice whose elements are a uint8 type."""
    if not isinstance(t, Slice):
        return False
    e = t.elem
    return isinstance(e, Basic) and e.kind is Kind.UINT and e.bits == 8


def named(name: str, underlying: GoType, pkg: str = "main") -> GoType:
    """A Go type definition, e.g. ``type Names []string`` is ``named("Names", Slice(STRING))``.

    For structs give the name to :class:`Struct` directly.
    """
    if isinstance(underlying, (Struct, Ptr)):
        raise GobEncodeError("name a struct with Struct(name, ...); pointer types have no name")
    return replace(underlying, name=name, pkg=pkg)  # type: ignore[type-var]


def default_name(t: GoType) -> str:
    """The name Go's ``gob.Register`` gives a type: import path + name, or the type's String()."""
    if t.name and not isinstance(t, Ptr):
        return f"{t.pkg}.{t.name}" if t.pkg else t.name
    return t.go_string


def _basic(kind: Kind, bits: int, name: str) -> Basic:
    return Basic(kind, bits, name)


BOOL = _basic(Kind.BOOL, 0, "bool")
INT = _basic(Kind.INT, 64, "int")
INT8 = _basic(Kind.INT, 8, "int8")
INT16 = _basic(Kind.INT, 16, "int16")
INT32 = _basic(Kind.INT, 32, "int32")
INT64 = _basic(Kind.INT, 64, "int64")
UINT = _basic(Kind.UINT, 64, "uint")
UINT8 = _basic(Kind.UINT, 8, "uint8")
UINT16 = _basic(Kind.UINT, 16, "uint16")
UINT32 = _basic(Kind.UINT, 32, "uint32")
UINT64 = _basic(Kind.UINT, 64, "uint64")
UINTPTR = _basic(Kind.UINT, 64, "uintptr")
FLOAT32 = _basic(Kind.FLOAT, 32, "float32")
FLOAT64 = _basic(Kind.FLOAT, 64, "float64")
COMPLEX64 = _basic(Kind.COMPLEX, 64, "complex64")
COMPLEX128 = _basic(Kind.COMPLEX, 128, "complex128")
STRING = _basic(Kind.STRING, 0, "string")
BYTES = Slice(UINT8)
INTERFACE = Interface()
MAP_STRING_ANY = Map(STRING, INTERFACE)
SLICE_ANY = Slice(INTERFACE)
