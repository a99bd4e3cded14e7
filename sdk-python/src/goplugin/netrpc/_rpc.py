"""Go's net/rpc over gob (its default codec), sans-IO: both ends of one connection.

Each direction of a connection is one gob stream carrying pairs of values: a header
(``rpc.Request{ServiceMethod, Seq}`` or ``rpc.Response{ServiceMethod, Seq, Error}``), then the
body (the call's argument or reply). When a response carries an error, its body is an empty
``struct{}`` that the client discards. Responses may come back in any order; ``Seq`` matches
them to calls. The wording of errors is Go's, because Go clients show it to users.

The IO layer feeds received bytes in, pulls events out one at a time (so events before a fatal
error are never lost), and writes the bytes these objects return::

    client = ClientCodec()                       # one per stream (go-plugin: per yamux stream)
    seq, data = client.request("Dispenser.Dispense", "kv", STRING, UINT32)
    write(data)
    client.receive_data(read())
    while (reply := client.next_reply()) is not None:
        ...  # reply.seq, reply.value, reply.error (RPCServerError | GobError | None)

    server = ServerCodec(CONTROL_SERVICES)       # {service: {method: Method(arg, reply)}}
    server.receive_data(read())
    while (call := server.next_call()) is not None:
        write(server.respond(call, result) if not call.error else server.respond(call))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from goplugin.errors import GobError, GobTypeError, PluginError, ProtocolError, RPCServerError

from ._gobdec import NEED_DATA, Decoder
from ._gobenc import Encoder
from ._gobpytypes import PYTHON_TYPES, not_a_go_type
from ._gobtypes import BOOL, STRING, UINT32, UINT64, GoType, Ptr, Struct
from ._gobwire import TOO_BIG

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ._gobregistry import Registry

__all__ = [
    "CONTROL_SERVICES",
    "EMPTY_STRUCT",
    "REQUEST",
    "RESPONSE",
    "Call",
    "ClientCodec",
    "Method",
    "Reply",
    "ServerCodec",
]

REQUEST = Struct("Request", [("ServiceMethod", STRING), ("Seq", UINT64)], pkg="net/rpc")
RESPONSE = Struct(
    "Response", [("ServiceMethod", STRING), ("Seq", UINT64), ("Error", STRING)], pkg="net/rpc"
)
#: ``struct{}``: the reply of go-plugin's Control.Ping/Quit, and the body of every error response.
EMPTY_STRUCT = Struct("", [])


@dataclass(frozen=True, slots=True)
class Method:
    """What a served method takes and returns. ``None``: decode generically / infer from value."""

    arg_type: GoType | None
    reply_type: GoType | None = None


#: go-plugin's services on the control stream (rpc_server.go), for hosts and plugins alike.
CONTROL_SERVICES: Mapping[str, Mapping[str, Method]] = {
    "Control": {"Ping": Method(BOOL, EMPTY_STRUCT), "Quit": Method(BOOL, EMPTY_STRUCT)},
    "Dispenser": {"Dispense": Method(STRING, UINT32)},
}


@dataclass(frozen=True, slots=True)
class Reply:
    """A response to one of our calls: ``value``, or ``error`` (then ``value`` is None).

    ``error`` is :class:`RPCServerError` when the server answered with an error string, or
    :class:`GobError` when the reply did not decode as the call's reply type.
    """

    seq: int
    service_method: str
    value: Any
    error: PluginError | None


@dataclass(frozen=True, slots=True)
class Call:
    """A request to serve. ``error`` non-empty: answer it with that error (Go's wording)."""

    seq: int
    service_method: str
    args: Any
    method: Method | None
    error: str = ""


# Process-wide memo, any thread (every codec's calls), no lock: entries are stored whole, and
# two threads missing at once store equal values (descriptors compare by structure, a Struct by
# identity, which both share), so either may win.
_TARGETS: dict[Any, GoType | type] = {}


def _pointer_to(t: GoType | type) -> GoType | type:
    """What a net/rpc body decodes into: new(T) for a Go type (Go's error messages name that
    pointer type, so do ours); a Python builtin as it is (the decoder takes any Go type that
    decodes to it). Anything else is refused (:class:`GobTypeError`), before a call is sent.

    Memoized: the decoder's caches are keyed by it on every call.
    """
    try:
        p = _TARGETS.get(t)
    except TypeError:  # unhashable: not a type either
        p = None
    if p is None:
        if isinstance(t, GoType):
            p = t if isinstance(t, Ptr) else Ptr(t)
        elif t in PYTHON_TYPES:
            p = t
        else:
            raise not_a_go_type("reply type", t)
        _TARGETS[t] = p
    return p


class _Codec:
    __slots__ = ("_broken", "_dec", "_enc", "_header")

    def __init__(self, registry: Registry | None, max_message_size: int):
        self._enc = Encoder(registry, max_message_size=max_message_size)
        self._dec = Decoder(registry, max_message_size=max_message_size)
        self._header: dict[str, Any] | None = None
        self._broken: ProtocolError | None = None

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Bytes received on the connection, in any chunking."""
        self._dec.feed(data)

    @property
    def buffered(self) -> int:
        """Received bytes not yet consumed: non-zero at end of stream means a cut message."""
        return self._dec.buffered

    def _fail(self, message: str) -> ProtocolError:
        self._broken = GobError(message)
        return self._broken

    def _check(self) -> None:
        if self._broken is not None:
            raise ProtocolError(f"net/rpc connection is broken: {self._broken}")


class ClientCodec(_Codec):
    """The calling side (Go's gobClientCodec plus the bookkeeping of rpc.Client)."""

    __slots__ = ("_pending", "_seq")

    def __init__(self, registry: Registry | None = None, *, max_message_size: int = TOO_BIG):
        super().__init__(registry, max_message_size)
        self._seq = 0
        # seq -> what its reply decodes into. request() adds (its caller serialises requests,
        # e.g. ClientConn's send lock); next_reply() reads and removes, on the one reading
        # thread; their seqs never meet before the request's bytes are out, and each is one
        # atomic dict operation: no lock of its own.
        self._pending: dict[int, GoType | type | None] = {}

    def request(
        self,
        service_method: str,
        args: Any,
        args_type: GoType | type | None = None,
        reply_type: GoType | type | None = None,
    ) -> tuple[int, bytes]:
        """Start a call: returns its seq and the bytes to write (header and args).

        ``args_type``/``reply_type`` are the Go types (inferred from ``args``, generic reply if
        None), or Python builtins standing for them (``str``, ``bytes``, ``int``, ``float``,
        ``bool``, ``list``, ``dict``). Raises :class:`GobTypeError` for anything else and
        :class:`GobEncodeError` if ``args`` do not fit; nothing is sent then.
        """
        self._check()
        want = None if reply_type is None else _pointer_to(reply_type)
        seq = self._seq
        try:
            data = self._enc.encode_values(
                ({"ServiceMethod": service_method, "Seq": seq}, REQUEST), (args, args_type)
            )
        except GobTypeError as exc:
            raise GobTypeError(f"args type: {exc}") from None
        self._seq = seq + 1
        self._pending[seq] = want
        return seq, data

    def forget(self, seq: int) -> None:
        """Stop waiting for ``seq`` (e.g. after a timeout): its reply will be dropped."""
        self._pending.pop(seq, None)

    @property
    def pending(self) -> frozenset[int]:
        """The seqs of calls still waiting for a reply."""
        return frozenset(self._pending)

    def next_reply(self) -> Reply | None:
        """The next reply to one of our calls, or None until more bytes arrive.

        Raises :class:`GobError` if the server's stream is broken (a header that does not
        decode); every pending call has failed then, as in Go.
        """
        self._check()
        while True:
            header = self._header
            if header is None:
                try:
                    header = self._dec.next_value(RESPONSE)
                except GobError as e:
                    raise self._fail(f"gob: reading response header: {e}") from e
                if header is NEED_DATA:
                    return None
                self._header = header
            seq: int = header["Seq"]
            error: str = header["Error"]
            waiting = seq in self._pending
            want = self._pending[seq] if waiting and not error else None
            try:
                body = self._dec.next_value(want)
            except Exception as e:  # the decoder skipped the body: only this call failed
                if error or not waiting:  # Go gives up on the connection here
                    raise self._fail(f"reading error body: {e}") from e
                del self._pending[seq]
                self._header = None
                return Reply(seq, header["ServiceMethod"], None, GobError(f"reading body {e}"))
            if body is NEED_DATA:
                return None
            self._header = None
            if not waiting:
                continue  # nobody waits for this one (forgotten): drop it, like Go
            del self._pending[seq]
            if error:
                return Reply(seq, header["ServiceMethod"], None, RPCServerError(error))
            return Reply(seq, header["ServiceMethod"], body, None)


class ServerCodec(_Codec):
    """The serving side (Go's gobServerCodec plus rpc.Server's request routing).

    ``services`` maps service name → method name → :class:`Method`; it is consulted per call,
    so services registered later (go-plugin's Dispense) are found.
    """

    __slots__ = ("_services",)

    def __init__(
        self,
        services: Mapping[str, Mapping[str, Method]],
        registry: Registry | None = None,
        *,
        max_message_size: int = TOO_BIG,
    ):
        super().__init__(registry, max_message_size)
        self._services = services

    def _route(self, service_method: str) -> tuple[Method | None, str]:
        dot = service_method.rfind(".")
        if dot < 0:
            return None, "rpc: service/method request ill-formed: " + service_method
        service = self._services.get(service_method[:dot])
        if service is None:
            return None, "rpc: can't find service " + service_method
        method = service.get(service_method[dot + 1 :])
        if method is None:
            return None, "rpc: can't find method " + service_method
        return method, ""

    def next_call(self) -> Call | None:
        """The next request, or None until more bytes arrive.

        A request that cannot be served (unknown service or method, arguments that do not
        decode) comes back as a :class:`Call` with ``error`` set: answer it with
        :meth:`respond`, as Go's server does. Raises :class:`GobError` if a request header
        does not decode: Go's server closes the connection then.
        """
        self._check()
        header = self._header
        if header is None:
            try:
                header = self._dec.next_value(REQUEST)
            except GobError as e:
                raise self._fail(f"rpc: server cannot decode request: {e}") from e
            if header is NEED_DATA:
                return None
            self._header = header
        service_method: str = header["ServiceMethod"]
        method, error = self._route(service_method)
        want = None
        if method is not None and method.arg_type is not None:
            want = _pointer_to(method.arg_type)
        try:
            args = self._dec.next_value(want)
        except Exception as e:  # e.g. a class refusing the fields; the decoder skipped them
            if method is None:  # the body was to be discarded anyway; Go ignores this too
                args = None
            else:
                method, error, args = None, str(e), None
        if args is NEED_DATA:
            return None
        self._header = None
        if method is None:
            args = None
        return Call(header["Seq"], service_method, args, method, error)

    def respond(self, call: Call, reply: Any = None, *, error: str = "") -> bytes:
        """The bytes answering ``call``: ``reply`` (as its method's reply type), or an error.

        A call that came in with ``error`` is always answered with that error. Raises
        :class:`GobEncodeError` if ``reply`` does not fit the reply type; nothing is sent then
        (answer with ``error=str(exc)`` instead, rather than Go's dropping the connection).
        """
        self._check()
        error = call.error or error
        header = {"ServiceMethod": call.service_method, "Seq": call.seq, "Error": error}
        if error:
            return self._enc.encode_values((header, RESPONSE), ({}, EMPTY_STRUCT))
        reply_type = call.method.reply_type if call.method is not None else None
        return self._enc.encode_values((header, RESPONSE), (reply, reply_type))
