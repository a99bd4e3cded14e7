"""gob Decoder, sans-IO: gob stream bytes in, Python values out.

One Decoder per stream direction. It learns type ids from the definitions it receives (Go's ids
are process-global and unpredictable) and decodes either into a type the caller expects (with
Go's compatibility rules and error messages) or, with no expected type, into generic Python
values built from the wire definitions alone.

Bytes are fed as they arrive; a value is only decoded once every message it spans is complete,
and a message's declared length is checked against a limit before waiting for it, so the decoder
never allocates more than it was given (plus a small constant).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from goplugin.errors import GobError

from ._gobdecops import (
    GENERIC_BUILTIN_OPS,
    GENERIC_ZERO,
    WIRE_ID_OF_KIND,
    DecOp,
    array_op,
    checked_builtin,
    construct,
    freeze,
    map_op,
    slice_op,
    zero_plan,
)
from ._gobpytypes import PYTHON_TYPES, builtin_reader, go_type
from ._gobregistry import DEFAULT_REGISTRY, Registry
from ._gobtypes import Basic, GoType, Kind, Struct, is_bytes, strip_ptr
from ._gobwire import (
    BUILTIN_NAMES,
    BYTES_ID,
    FIRST_USER_ID,
    INTERFACE_ID,
    MAX_TYPE_ID,
    TOO_BIG,
    NeedMore,
    Reader,
    WireType,
    decode_wire_type,
    frame_at,
)

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["NEED_DATA", "Decoder"]


class _NeedData:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


#: What :meth:`Decoder.next_value` returns while the next value has not fully arrived.
NEED_DATA: Final[Any] = _NeedData()


class Decoder:
    """Decodes one gob stream. Not thread-safe; one per stream direction."""

    __slots__ = (
        "_buf",
        "_limit",
        "_max_depth",
        "_names",
        "_need",
        "_ops",
        "_registry",
        "_start",
        "_tops",
        "_tracking",
        "_wire",
    )

    def __init__(
        self,
        registry: Registry | None = None,
        *,
        max_message_size: int = TOO_BIG,
        max_depth: int = 200,
    ):
        self._registry = DEFAULT_REGISTRY if registry is None else registry
        self._limit = max_message_size
        self._max_depth = max_depth
        # Everything here, type-id tables and compiled readers included, belongs to the one
        # thread reading the stream (net/rpc: a connection's reader thread). No lock.
        self._buf = bytearray()
        self._start = 0
        self._need = 0
        self._wire: dict[int, WireType] = {}
        self._ops: dict[tuple[int, GoType | None], DecOp] = {}
        self._tops: dict[tuple[int, GoType | type | None], tuple[bool, DecOp]] = {}
        self._names: dict[bytes, GoType | None] = {}
        self._tracking: list[int] | None = None

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append received bytes (any chunking)."""
        self._buf += data

    @property
    def buffered(self) -> int:
        """Bytes received but not consumed yet: non-zero at end of stream means it was cut."""
        return len(self._buf) - self._start

    @property
    def wire_types(self) -> dict[int, WireType]:
        """The type definitions received so far, by id (a copy)."""
        return dict(self._wire)

    def next_value(self, want: GoType | type | None = None) -> Any:
        """The next value, decoded as ``want`` (or generically), or :data:`NEED_DATA`.

        ``want`` may also be a Python builtin (``str``, ``bytes``, ``int``, ``float``,
        ``bool``, ``list``, ``dict``): any Go type that decodes to it is accepted. Raises
        :class:`GobError` for malformed data or a value that does not fit ``want``; the rest
        of that message is skipped (like Go), so the stream can go on if it was intact.
        """
        buf = self._buf
        if len(buf) < self._need:
            return NEED_DATA
        self._need = 0
        while True:
            start, end = frame_at(buf, self._start, self._limit)
            if end < 0:
                self._need = start
                return NEED_DATA
            r = Reader(buf, start, end, self._limit, self._max_depth)
            value: Any = None
            try:
                tid = r.read_int()
                if tid < 0:
                    self._recv_type(-tid, r)
                    if r.pos != r.end:
                        raise GobError("gob: extra data in buffer after type definition")
                else:
                    self._tracking = []
                    if want is not None and (tid, want) not in self._tops:
                        self._check_top(r, tid, want)
                    value = self._decode_top(r, tid, want)
            except NeedMore as more:
                # The value spans messages not all here: forget what it taught us, start over
                # from its first message once the missing one has arrived.
                for learned in self._tracking or ():
                    del self._wire[learned]
                if self._tracking:
                    self._ops.clear()
                    self._tops.clear()
                self._need = more.need
                return NEED_DATA
            except GobError:
                self._consume(r.end)
                raise
            except RecursionError:
                self._consume(r.end)
                raise GobError("gob: value nested too deeply for Python's stack") from None
            except Exception:
                # Not the data's fault (say, ``want`` is a struct without fields yet): the
                # message is skipped all the same, so the stream stays in step.
                self._consume(r.end)
                raise
            finally:
                self._tracking = None
            self._consume(r.end)
            if tid >= 0:
                return value

    def _consume(self, pos: int) -> None:
        buf = self._buf
        if pos >= len(buf):
            buf.clear()
            self._start = 0
        elif pos > 65536 and pos * 2 > len(buf):
            del buf[:pos]
            self._start = 0
        else:
            self._start = pos

    def _check_top(self, r: Reader, tid: int, want: GoType | type) -> None:
        """Compile for ``want``; if the value does not fit, read past it before saying so.

        A value can span several messages (types defined inside interfaces): skipping it
        whole, as a generic value, keeps the stream in step for the next one.
        """
        try:
            self._compile_top(tid, want)
        except Exception as mismatch:
            try:
                self._decode_top(r, tid, None)
            except GobError:
                pass
            raise mismatch from None

    def _recv_type(self, tid: int, r: Reader) -> None:
        if tid < FIRST_USER_ID or tid in self._wire:
            raise GobError("gob: duplicate type received")
        if tid > MAX_TYPE_ID:
            raise GobError(f"gob: type id {tid} out of range")
        self._wire[tid] = decode_wire_type(r)
        if self._tracking is not None:
            self._tracking.append(tid)

    def _type_string(self, tid: int) -> str:
        if tid in BUILTIN_NAMES:
            return BUILTIN_NAMES[tid]
        w = self._wire.get(tid)
        return str(w) if w is not None else f"<unknown type {tid}>"

    # --- values ---

    def _decode_top(self, r: Reader, tid: int, want: GoType | type | None) -> Any:
        """A top-level or interface-held value: a struct's fields, or a singleton."""
        entry = self._tops.get((tid, want))
        if entry is None:
            entry = self._compile_top(tid, want)
        is_struct, op = entry
        if not is_struct and r.read_uint() != 0:
            raise GobError("gob: decode: corrupted data: non-zero delta for singleton")
        return op(r)

    def _compile_top(self, tid: int, want: GoType | type | None) -> tuple[bool, DecOp]:
        if want is not None and not isinstance(want, GoType) and want not in PYTHON_TYPES:
            go_type(want, "expected type")  # raises GobTypeError, with what to use instead
        if tid > MAX_TYPE_ID or (tid not in BUILTIN_NAMES and tid not in self._wire):
            raise GobError(f"gob: unknown type id {tid} or corrupted data")
        wire = self._wire.get(tid)
        is_struct = wire is not None and wire.kind is Kind.STRUCT
        if isinstance(want, type):  # a Python builtin
            op = builtin_reader(want, tid, wire, self._op(tid, None, 0), self._type_string)
            entry = (is_struct, op)
            self._tops[tid, want] = entry
            return entry
        base = None if want is None else strip_ptr(want)
        if want is not None and isinstance(base, Struct):
            if wire is None or not is_struct:
                raise GobError(
                    f"gob: type mismatch in decoder: want struct type {want}; got non-struct"
                )
            mine = {f.name for f in base.fields}
            if mine and wire.fields and not any(name in mine for name, _ in wire.fields):
                raise GobError(
                    f"gob: type mismatch: no fields matched compiling decoder for {want}"
                )
        elif want is not None and base is not None and not self._compatible(base, tid, {}):
            remote = self._type_string(tid)
            if base.kind is Kind.INTERFACE:
                raise GobError(
                    f"gob: local interface type {want} can only be decoded from remote interface "
                    f"type; received concrete type {remote}"
                )
            raise GobError(f"gob: decoding into local type {want}, received remote type {remote}")
        entry = (is_struct, self._op(tid, base, 0))
        self._tops[tid, want] = entry
        return entry

    def _compatible(self, t: GoType, tid: int, seen: dict[GoType, int]) -> bool:
        """Go's compatibleType: can a value of wire type ``tid`` be stored in a ``t``?"""
        t = strip_ptr(t)
        if t in seen:
            return seen[t] == tid
        seen[t] = tid
        wire = self._wire.get(tid)
        if (t.kind is Kind.MARSHALER) != (wire is not None and wire.kind is Kind.MARSHALER):
            return False
        k = t.kind
        if k in WIRE_ID_OF_KIND:
            return tid == WIRE_ID_OF_KIND[k]
        if is_bytes(t):
            return tid == BYTES_ID
        if wire is None:
            return False
        if k is Kind.MARSHALER:
            return True
        if k is Kind.STRUCT:
            return wire.kind is Kind.STRUCT
        if k is Kind.ARRAY:
            return (
                wire.kind is Kind.ARRAY
                and wire.length == t.length  # type: ignore[attr-defined]
                and self._compatible(t.elem, wire.elem, seen)  # type: ignore[attr-defined]
            )
        if k is Kind.MAP:
            return (
                wire.kind is Kind.MAP
                and self._compatible(t.key, wire.key, seen)  # type: ignore[attr-defined]
                and self._compatible(t.elem, wire.elem, seen)  # type: ignore[attr-defined]
            )
        if k is Kind.SLICE:
            return wire.kind is Kind.SLICE and self._compatible(t.elem, wire.elem, seen)  # type: ignore[attr-defined]
        return False  # pragma: no cover

    def _op(self, tid: int, want: GoType | None, depth: int) -> DecOp:
        """The compiled reader of wire type ``tid`` into ``want`` (compatibility checked)."""
        key = (tid, want)
        op = self._ops.get(key)
        if op is not None:
            return op
        if depth > self._max_depth:
            raise GobError(f"gob: types nested more than {self._max_depth} levels deep")
        cell: list[DecOp] = []
        self._ops[key] = lambda r: cell[0](r)  # recursive types meet themselves
        try:
            op = self._compile(tid, want, depth + 1)
        except BaseException:
            # Readers compiled meanwhile may hold the placeholder: forget them all.
            self._ops.clear()
            self._tops.clear()
            raise
        cell.append(op)
        self._ops[key] = op
        return op

    def _compile(self, tid: int, want: GoType | None, depth: int) -> DecOp:
        if tid == INTERFACE_ID:
            return self._interface
        if tid in GENERIC_BUILTIN_OPS:
            return (
                checked_builtin(tid, want) if isinstance(want, Basic) else GENERIC_BUILTIN_OPS[tid]
            )
        wire = self._wire.get(tid)
        if wire is None:
            raise GobError(f"gob: bad data: undefined type {tid}")
        kind = wire.kind
        if kind is Kind.MARSHALER:
            return Reader.read_bytes
        if kind is Kind.STRUCT:
            return self._struct_op(wire, want if isinstance(want, Struct) else None, depth)
        elem_want = None if want is None else strip_ptr(want.elem)  # type: ignore[attr-defined]
        elem = self._op(wire.elem, elem_want, depth)
        if kind is Kind.SLICE:
            return slice_op(elem)
        if kind is Kind.ARRAY:
            return array_op(elem, wire.length)
        key_want = None if want is None else strip_ptr(want.key)  # type: ignore[attr-defined]
        key = self._op(wire.key, key_want, depth)
        key_wire = self._wire.get(wire.key)
        if key_wire is not None and key_wire.kind is Kind.ARRAY:
            return map_op(lambda r: freeze(key(r)), elem)
        return map_op(key, elem)

    def _struct_op(self, wire: WireType, want: Struct | None, depth: int) -> DecOp:
        """Fields by number; unknown ones decoded and dropped, missing ones left at zero."""
        ops: list[tuple[DecOp, str | None]] = []
        mine = {} if want is None else {f.name: f for f in want.fields}
        for name, fid in wire.fields:
            if not name:
                raise GobError(f"gob: empty name for remote field of type {wire}")
            if want is None:
                ops.append((self._op(fid, None, depth), name))
                continue
            f = mine.get(name)
            if f is None:
                ops.append((self._op(fid, None, depth), None))
                continue
            if not self._compatible(f.type, fid, {}):
                raise GobError(f"gob: wrong type ({f.type}) for received field {wire}.{name}")
            ops.append((self._op(fid, strip_ptr(f.type), depth), f.attr))
        zeros: dict[str, Any]
        factories: list[tuple[str, Callable[[], Any]]]
        if want is None:
            zeros, factories = {}, []
            for name, fid in wire.fields:
                w = self._wire.get(fid)
                # A struct, array or map field absent on the wire was a nil pointer.
                zeros[name] = GENERIC_ZERO.get(fid)
                if w is not None and w.kind is Kind.SLICE:
                    factories.append((name, list))
            cls = None
        else:
            zeros, factories = zero_plan(want)
            cls = want.cls
        count = len(ops)

        def op_struct(r: Reader) -> Any:
            r.enter()
            out = zeros.copy()
            for attr, factory in factories:
                out[attr] = factory()
            num = -1
            while r.pos < r.end:  # Go ends a struct at the message end, too
                delta = r.read_uint()
                if delta == 0:
                    break
                num += delta
                if num >= count:
                    raise GobError("gob: bad data: field numbers out of bounds")
                fop, key = ops[num]
                value = fop(r)
                if key is not None:
                    out[key] = value
            r.depth -= 1
            return out if cls is None else construct(cls, out)

        return op_struct

    def _interface(self, r: Reader) -> Any:
        """Go's decodeInterface: name, type definitions (maybe in new messages), id, value."""
        n = r.read_uint()
        if n == 0:
            return None  # nil interface
        if n > r.end - r.pos:
            raise GobError(f"gob: invalid type name length {n}: exceeds input size")
        if n > 1024:
            raise GobError(f"gob: name too long ({n} bytes)")
        name = bytes(r.buf[r.pos : r.pos + n])
        r.pos += n
        if name in self._names:
            target = self._names[name]
        else:
            target = self._registry.lookup(name.decode("utf-8", "surrogateescape"))
            self._names[name] = target
        while True:
            if r.pos >= r.end:
                r.next_message()
            tid = r.read_int()
            if tid >= 0:
                break
            self._recv_type(-tid, r)
            if r.pos < r.end:
                r.read_uint()  # a nested definition is followed by a byte count; unused
        r.read_uint()  # the value's byte count: unused, exactly as Go
        r.enter()
        value = self._decode_top(r, tid, target)
        r.depth -= 1
        return value
