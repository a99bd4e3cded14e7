"""gob Encoder, sans-IO: Python values + Go type descriptors in, gob stream bytes out.

One Encoder per stream direction, as in Go: it remembers which type definitions the peer has
already been sent. Its output is byte-for-byte what a fresh Go process writes for the same
values, including type ids (allocated from 64 in the order Go's type table allocates them), type
names, and the way Go splits a value into several messages when a type is first defined inside
an interface value. Ids are per encoder, not process-wide as in Go: only the peer's decoder of
this stream ever sees them.
"""

from __future__ import annotations

from typing import Any

from goplugin.errors import GobEncodeError

from ._gobencops import payload_op_for
from ._gobpytypes import go_type
from ._gobregistry import DEFAULT_REGISTRY, Registry
from ._gobtypes import (
    Array,
    GoType,
    Kind,
    Map,
    Marshaler,
    Slice,
    Struct,
    Typed,
    is_bytes,
    strip_ptr,
)
from ._gobwire import (
    FIRST_USER_ID,
    TOO_BIG,
    WireType,
    encode_wire_type,
    put_int,
    put_uint,
)

__all__ = ["Encoder"]

_BUILTIN_ID = {
    Kind.BOOL: 1,
    Kind.INT: 2,
    Kind.UINT: 3,
    Kind.FLOAT: 4,
    Kind.STRING: 6,
    Kind.COMPLEX: 7,
    Kind.INTERFACE: 8,
}
_BYTES_ID = 5


class _Info:
    """A type's id and definition in this encoder (Go's typeInfo)."""

    __slots__ = ("id", "wire")

    def __init__(self, tid: int, wire: WireType | None = None):
        self.id = tid
        self.wire = wire


class Encoder:
    """Encodes values into one gob stream. Not thread-safe; one per stream direction."""

    __slots__ = ("_infos", "_limit", "_newly_sent", "_next_id", "_registry", "_sent", "_writers")

    def __init__(self, registry: Registry | None = None, *, max_message_size: int = TOO_BIG):
        self._registry = DEFAULT_REGISTRY if registry is None else registry
        self._limit = max_message_size
        # The stream's type-id tables: touched only by whoever writes the stream, one at a time
        # (net/rpc: ClientConn's send lock, serve_stream's send lock), as the bytes must leave
        # in the order they were encoded anyway. No lock here.
        self._infos: dict[GoType, _Info] = {}
        self._sent: dict[GoType, int] = {}
        self._newly_sent: list[GoType] = []
        self._next_id = FIRST_USER_ID
        self._writers: list[bytearray] = []

    def encode(self, value: Any, type_: GoType | type | None = None) -> bytes:
        """The bytes to send for ``value`` as Go type ``type_`` (inferred from the value if None).

        ``type_`` may be a Python builtin standing for a Go type (``str`` for ``string``, ...:
        ``PYTHON_TYPES``). Includes the definitions of types the peer has not seen yet. Raises
        :class:`GobEncodeError` (and changes nothing) if the value does not fit the type.
        """
        return self.encode_values((value, type_))

    def encode_values(self, *items: tuple[Any, GoType | type | None]) -> bytes:
        """Several values, all or nothing (net/rpc sends a header and a body together)."""
        out = bytearray()
        self._newly_sent.clear()
        try:
            for value, t in items:
                self._encode_top(out, value, t)
        except GobEncodeError:
            self._forget_newly_sent()
            raise
        except (TypeError, ValueError, OverflowError, AttributeError, RecursionError) as e:
            self._forget_newly_sent()
            raise GobEncodeError(f"gob: cannot encode value: {e}") from e
        except BaseException:  # e.g. a property of the value raised: still nothing was sent
            self._forget_newly_sent()
            raise
        return bytes(out)

    def _forget_newly_sent(self) -> None:
        # Nothing of a failed call is returned, so the peer never saw these definitions.
        for t in self._newly_sent:
            self._sent.pop(t, None)
        self._newly_sent.clear()

    def _encode_top(self, out: bytearray, value: Any, t: GoType | type | None) -> None:
        """Go's EncodeValue: definitions, then one message holding type id and value."""
        if t is None:
            t = self._registry.infer(value)
        elif not isinstance(t, GoType):
            t = go_type(t)  # a Python builtin standing for one, or GobTypeError
        if value is None and t.kind is Kind.PTR and strip_ptr(t).kind is not Kind.INTERFACE:
            raise GobEncodeError(f"gob: cannot encode nil pointer of type {t}")
        self._writers = [out]
        b = bytearray()
        self._send_type_descriptor(out, b, t)
        put_int(b, self._sent[strip_ptr(t)])
        payload_op_for(t)(self, b, value)
        self._write_message(out, b)

    def _write_message(self, w: bytearray, b: bytearray) -> None:
        if len(b) >= self._limit:
            raise GobEncodeError("gob: encoder: message too big")
        put_uint(w, len(b))
        w += b
        b.clear()

    # --- type definitions (Go's sendTypeDescriptor / sendType / sendActualType) ---

    def _send_type_descriptor(self, w: bytearray, b: bytearray, t: GoType) -> None:
        base = strip_ptr(t)
        if base not in self._sent and not self._send_type(w, b, base):
            self._sent[base] = self._info(base).id  # builtin: nothing to send

    def _send_type(self, w: bytearray, b: bytearray, t: GoType) -> bool:
        base = strip_ptr(t)
        if base.kind in _BUILTIN_ID or is_bytes(base):
            return False
        return self._send_actual_type(w, b, base)

    def _send_actual_type(self, w: bytearray, b: bytearray, t: GoType) -> bool:
        if t in self._sent:
            return False
        info = self._info(t)
        assert info.wire is not None
        # Go writes the definition into the buffer holding the value under construction and
        # flushes it all as one message; a value being encoded inside an interface therefore
        # splits into messages here. Decoders expect exactly that, so do the same.
        put_int(b, -info.id)
        encode_wire_type(b, info.wire)
        self._write_message(w, b)
        self._sent[t] = info.id
        self._newly_sent.append(t)
        if isinstance(t, Struct):
            for f in t.fields:
                self._send_type(w, b, f.type)
        elif isinstance(t, (Slice, Array)):
            self._send_type(w, b, t.elem)
        elif isinstance(t, Map):
            self._send_type(w, b, t.key)
            self._send_type(w, b, t.elem)
        return True

    def _info(self, t: GoType) -> _Info:
        """Go's getTypeInfo: a top-level type is named by its own Name()."""
        return self._infos.get(t) or self._gob_type(t, t.name)

    def _alloc(self) -> int:
        tid = self._next_id
        self._next_id += 1
        return tid

    def _gob_type(self, t: GoType, name: str) -> _Info:
        """Go's getBaseType/newTypeObject: ids and names exactly as Go's type table assigns them.

        The first path by which a type is reached names it; structs take their id before their
        fields, arrays/slices/maps after their elements (Go keeps this order for compatibility).
        """
        t = strip_ptr(t)
        info = self._infos.get(t)
        if info is not None:
            return info
        if t.kind in _BUILTIN_ID:
            return _Info(_BUILTIN_ID[t.kind])
        if is_bytes(t):
            return _Info(_BYTES_ID)
        info = self._infos[t] = _Info(0)
        try:
            self._describe(t, name, info)
        except BaseException:
            del self._infos[t]  # half-built (e.g. a struct without fields yet): not cached
            raise
        return info

    def _describe(self, t: GoType, name: str, info: _Info) -> None:
        if isinstance(t, Marshaler):
            info.id = self._alloc()
            info.wire = WireType(Kind.MARSHALER, name, info.id, method=t.method)
        elif isinstance(t, Struct):
            info.id = self._alloc()
            fields: list[tuple[str, int]] = []
            for f in t.fields:
                ft = strip_ptr(f.type)
                finfo = self._gob_type(ft, ft.name or ft.go_string)
                if finfo.id == 0:
                    finfo.id = self._alloc()
                fields.append((f.name, finfo.id))
            info.wire = WireType(Kind.STRUCT, name, info.id, fields=tuple(fields))
        elif isinstance(t, Array):
            elem = self._gob_type(t.elem, "")
            info.id = info.id or self._alloc()
            info.wire = WireType(Kind.ARRAY, name, info.id, elem=elem.id, length=t.length)
        elif isinstance(t, Slice):
            elem = self._gob_type(t.elem, t.elem.name)
            info.id = info.id or self._alloc()
            info.wire = WireType(Kind.SLICE, name, info.id, elem=elem.id)
        elif isinstance(t, Map):
            key = self._gob_type(t.key, "")
            elem = self._gob_type(t.elem, "")
            info.id = info.id or self._alloc()
            info.wire = WireType(Kind.MAP, name, info.id, key=key.id, elem=elem.id)
        else:  # pragma: no cover - every GoType kind is handled above
            raise GobEncodeError(f"gob: cannot encode type {t}")

    # --- interface values (Go's encodeInterface) ---

    def _encode_interface(self, b: bytearray, v: Any) -> None:
        if v is None:
            b.append(0)  # nil: the empty name
            return
        if isinstance(v, Typed):
            t, v = v.type, v.value
            if v is None and t.kind is Kind.PTR:
                raise GobEncodeError(f"gob: cannot encode nil pointer of type {t} inside interface")
        else:
            t = self._registry.infer(v)
        name = self._registry.name_of(t)
        if name is None:
            raise GobEncodeError(f"type not registered for interface: {strip_ptr(t)}")
        put_uint(b, len(name))
        b += name
        self._send_type_descriptor(self._writers[-1], b, t)
        put_int(b, self._sent[strip_ptr(t)])
        # The value goes into its own buffer, prefixed with its length; definitions of types
        # met inside it are flushed into ``b`` (Go's writer stack).
        self._writers.append(b)
        data = bytearray()
        payload_op_for(t)(self, data, v)
        self._writers.pop()
        self._write_message(b, data)
