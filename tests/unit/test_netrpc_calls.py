"""net/rpc calls over a yamux session pair, Python on both ends: no processes.

ClientConn against serve_stream (Go's rpc.Client/rpc.Server), the Dispatcher, the MuxBroker's
knock/ack, and the ``@netrpc.method`` declarations. The Go ends of all this are exercised by
tests/interop (test_host_netrpc, test_serve_netrpc, test_gob_go). No test asserts a duration;
timeouts only make a bug fail instead of hang.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goplugin import netrpc
from goplugin._plugin.config import _protocol_of
from goplugin._protocol.handshake import Protocol
from goplugin._yamux.session import Session
from goplugin.errors import (
    ConnectionClosedError,
    GobEncodeError,
    GobError,
    PluginError,
    ProtocolError,
    RPCServerError,
    RPCTimeoutError,
)
from goplugin.netrpc import gob
from goplugin.netrpc._client import ClientConn
from goplugin.netrpc._muxbroker import MuxBroker
from goplugin.netrpc._rpc import ClientCodec
from goplugin.netrpc._server import Dispatcher, serve_stream
from goplugin.netrpc._service import compile_service

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from threaded import collide, succeeded

SAFETY = 20.0
PAIR = gob.Struct("Pair", [("A", gob.INT64), ("B", gob.STRING)])


class Service:
    def __init__(self) -> None:
        self.release = threading.Event()

    @netrpc.method("Echo", args_type=gob.BYTES, reply_type=gob.BYTES)
    def echo(self, data: bytes) -> bytes:
        return data

    @netrpc.method
    def Generic(self, value: Any) -> Any:
        return value

    @netrpc.method("Swap", args_type=PAIR, reply_type=PAIR)
    def swap(self, pair: dict[str, Any]) -> dict[str, Any]:
        return {"A": -pair["A"], "B": pair["B"][::-1]}

    @netrpc.method("Fail", args_type=gob.STRING, reply_type=gob.STRING)
    def fail(self, message: str) -> str:
        raise ValueError(message)

    @netrpc.method("BadReply", args_type=gob.STRING, reply_type=gob.INT)
    def bad_reply(self, message: str) -> object:
        return message  # not an int: the reply cannot be encoded

    @netrpc.method("Wait", args_type=gob.STRING, reply_type=gob.STRING)
    def wait(self, tag: str) -> str:
        assert self.release.wait(SAFETY)
        return tag

    def not_served(self) -> None:
        raise AssertionError("undecorated methods are not served")


class AsyncService:
    @netrpc.method("Twice", args_type=gob.INT, reply_type=gob.INT)
    async def twice(self, n: int) -> int:
        await asyncio.sleep(0)
        return 2 * n


@pytest.fixture
def sessions() -> Iterator[tuple[Session, Session]]:
    a, b = socket.socketpair()
    client, server = Session(a, client=True), Session(b, client=False)
    yield client, server
    client.close()
    server.close()


def serve(server: Session, impl: object, dispatcher: Dispatcher | None = None) -> Dispatcher:
    dispatcher = dispatcher or Dispatcher()
    methods, handlers = compile_service(impl)
    dispatcher.check(handlers)

    def run() -> None:
        try:
            stream = server.accept_stream()
        except ConnectionClosedError:
            return  # the test closed the session before this thread took the stream
        assert stream is not None
        serve_stream(stream, {"Plugin": methods}, handlers, dispatcher)

    threading.Thread(target=run, daemon=True).start()
    return dispatcher


@pytest.fixture
def service(sessions: tuple[Session, Session]) -> Iterator[tuple[ClientConn, Service]]:
    client, server = sessions
    impl = Service()
    dispatcher = serve(server, impl)
    conn = ClientConn(client.open_stream())
    yield conn, impl
    impl.release.set()
    conn.close()
    dispatcher.close()


def call(conn: ClientConn, method: str, *args: Any, **kwargs: Any) -> Any:
    return conn.call_future(method, *args, **kwargs).result(SAFETY)


def test_typed_and_generic_calls(service: tuple[ClientConn, Service]) -> None:
    conn, _ = service
    assert call(conn, "Plugin.Echo", b"\x00\xff", gob.BYTES, gob.BYTES) == b"\x00\xff"
    assert call(conn, "Plugin.Swap", {"A": 3, "B": "ab"}, PAIR, PAIR) == {"A": -3, "B": "ba"}
    # Inferred args (map[string]interface {}) and a generically decoded reply.
    assert call(conn, "Plugin.Generic", {"k": [1, "x"]}) == {"k": [1, "x"]}
    assert call(conn, "Plugin.Generic") is None  # nil interface{} both ways


def test_errors_are_per_call(service: tuple[ClientConn, Service]) -> None:
    conn, _ = service
    with pytest.raises(RPCServerError, match=r"^boom$"):
        call(conn, "Plugin.Fail", "boom")
    with pytest.raises(RPCServerError, match=r"can't find method Plugin\.not_served"):
        call(conn, "Plugin.not_served", "x")
    with pytest.raises(RPCServerError, match=r"can't find service Nope\.Echo"):
        call(conn, "Nope.Echo", "x")
    with pytest.raises(RPCServerError, match="int"):
        call(conn, "Plugin.BadReply", "not a number")
    with pytest.raises(GobEncodeError):  # raised at once: nothing was sent
        conn.call_future("Plugin.Echo", object(), args_type=gob.BYTES)
    assert call(conn, "Plugin.Echo", b"ok", gob.BYTES, gob.BYTES) == b"ok"


def test_python_builtins_as_reply_and_args_types(service: tuple[ClientConn, Service]) -> None:
    conn, _ = service
    assert call(conn, "Plugin.Echo", b"\x00", bytes, args_type=bytes) == b"\x00"
    assert call(conn, "Plugin.Swap", {"A": 3, "B": "ab"}, dict, args_type=PAIR) == {
        "A": -3,
        "B": "ba",
    }
    for value in ("s", 7, -2.5, True, [1, "x"], {"k": [None]}):
        assert call(conn, "Plugin.Generic", value, type(value), args_type=type(value)) == value


def test_a_reply_of_another_type_fails_its_call_at_once(
    service: tuple[ClientConn, Service],
) -> None:
    """Issue 12 #6: ``reply_type=str`` killed the reader thread (AttributeError) and the call
    waited forever; now it decodes, or fails alone with a GobError, and the stream goes on."""
    conn, _ = service
    renamed = gob.Struct("Pair", PAIR.fields)  # another struct, same fields: fine
    assert call(conn, "Plugin.Swap", {"A": 1, "B": "x"}, renamed, args_type=PAIR)
    with pytest.raises(GobError, match="decoding into Python str, received remote type"):
        conn.call_future("Plugin.Echo", b"x", str, args_type=gob.BYTES).result(5)
    with pytest.raises(GobError, match="no fields"):  # a struct that was never given fields
        conn.call_future("Plugin.Swap", {"A": 1}, gob.Struct("Later"), args_type=PAIR).result(5)

    class Refuses:
        def __init__(self, **fields: Any) -> None:
            raise ValueError("refused")

    refusing = gob.Struct("Pair", PAIR.fields, cls=Refuses)
    with pytest.raises(GobError, match="refused"):
        conn.call_future("Plugin.Swap", {"A": 1}, refusing, args_type=PAIR).result(5)
    assert call(conn, "Plugin.Echo", b"ok", bytes, args_type=bytes) == b"ok"


def test_bad_reply_and_args_types_are_refused_before_sending(
    service: tuple[ClientConn, Service],
) -> None:
    conn, _ = service
    with pytest.raises(TypeError, match="reply type"):
        conn.call_future("Plugin.Echo", b"x", object, args_type=gob.BYTES)
    with pytest.raises(TypeError, match="args type"):
        conn.call_future("Plugin.Echo", b"x", bytes, args_type=object)
    with pytest.raises(GobEncodeError):
        conn.call_future("Plugin.Echo", "not bytes", bytes, args_type=bytes)
    assert call(conn, "Plugin.Echo", b"ok", bytes, args_type=bytes) == b"ok"


def test_the_reply_reader_never_dies_with_calls_waiting(
    service: tuple[ClientConn, Service], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever goes wrong on the reader thread, every waiting call fails with a typed error
    at once, and later calls fail at once too, instead of waiting for replies nobody reads."""
    conn, _ = service
    waiting = conn.call_future("Plugin.Wait", "never", gob.STRING)

    def bug(self: Any) -> None:
        raise RuntimeError("a bug in the reply reader")

    monkeypatch.setattr(ClientCodec, "next_reply", bug)
    trigger = conn.call_future("Plugin.Echo", b"x", gob.BYTES)  # its reply wakes the reader
    for future in (waiting, trigger):
        with pytest.raises(ProtocolError, match="a bug in the reply reader"):
            future.result(5)
    with pytest.raises(ProtocolError, match="a bug in the reply reader"):
        conn.call_future("Plugin.Echo", b"y", gob.BYTES).result(5)
    conn.join(5)


def test_calls_overlap_and_finish_out_of_order(service: tuple[ClientConn, Service]) -> None:
    conn, impl = service
    slow = conn.call_future("Plugin.Wait", "slow", gob.STRING)
    fast = [conn.call_future("Plugin.Echo", bytes([i]), gob.BYTES) for i in range(20)]
    assert [f.result(SAFETY) for f in fast] == [bytes([i]) for i in range(20)]
    assert not slow.done()
    impl.release.set()
    assert slow.result(SAFETY) == "slow"


def test_an_abandoned_call_does_not_disturb_the_next(service: tuple[ClientConn, Service]) -> None:
    conn, impl = service
    slow = conn.call_future("Plugin.Wait", "late", gob.STRING)
    assert slow.cancel()  # what a timeout does
    impl.release.set()
    assert call(conn, "Plugin.Wait", "next", gob.STRING) == "next"


def test_many_threads_share_one_client(service: tuple[ClientConn, Service]) -> None:
    conn, _ = service
    results: list[bytes] = []

    def worker(n: int) -> None:
        for i in range(25):
            data = f"{n}-{i}".encode()
            results.append(call(conn, "Plugin.Echo", data, gob.BYTES, gob.BYTES))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(SAFETY)
    assert sorted(results) == sorted(f"{n}-{i}".encode() for n in range(8) for i in range(25))


@pytest.mark.timeout(120)
def test_threads_sending_new_types_at_once_share_one_stream(
    service: tuple[ClientConn, Service],
) -> None:
    """The stream's type tables (encoder ids and definitions on our side, the decoder's on the
    server's, both ways) stay consistent when 16 threads each bring a new type in the same
    instant: the send lock orders them, and each reader learns them in stream order."""
    conn, _ = service
    types = [
        [
            gob.Struct(f"New{r}x{i}", [("N", gob.INT), (f"F{i}", gob.Slice(gob.STRING))])
            for i in range(16)
        ]
        for r in range(8)
    ]

    def work(r: int, i: int) -> tuple[Any, dict[str, Any]]:
        value: dict[str, Any] = {"N": r * 100 + i, f"F{i}": [str(i)] * i}
        return call(conn, "Plugin.Generic", value, dict, args_type=types[r][i]), value

    results = succeeded(collide(work, rounds=len(types), timeout=SAFETY * 4))
    for row in results:
        for got, sent in row:
            assert got == sent


def test_big_values_cross_the_window(service: tuple[ClientConn, Service]) -> None:
    conn, _ = service
    big = bytes(range(256)) * 4096  # 1 MiB: four times yamux's stream window
    assert call(conn, "Plugin.Echo", big, gob.BYTES, gob.BYTES) == big


def test_a_dead_session_fails_pending_and_later_calls(
    sessions: tuple[Session, Session], service: tuple[ClientConn, Service]
) -> None:
    conn, _ = service
    pending = conn.call_future("Plugin.Wait", "never", gob.STRING)
    sessions[1].close()
    with pytest.raises(ConnectionClosedError):
        pending.result(SAFETY)
    with pytest.raises(ConnectionClosedError):
        call(conn, "Plugin.Echo", b"x", gob.BYTES)
    conn.join(SAFETY)


def test_async_methods_run_on_the_loop(sessions: tuple[Session, Session]) -> None:
    client, server = sessions
    with pytest.raises(ProtocolError, match="async"):
        Dispatcher().check(compile_service(AsyncService())[1])

    async def main() -> list[int]:
        dispatcher = serve(server, AsyncService(), Dispatcher(asyncio.get_running_loop()))
        conn = ClientConn(client.open_stream())
        futures = [conn.call_future("Plugin.Twice", n, gob.INT) for n in range(10)]
        try:
            return [await asyncio.wrap_future(f) for f in futures]
        finally:
            conn.close()
            dispatcher.close()

    assert asyncio.run(main()) == [2 * n for n in range(10)]


VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text() | st.binary(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(VALUES, min_size=1, max_size=5))
def test_generic_values_round_trip(service: tuple[ClientConn, Service], values: list[Any]) -> None:
    """Python values travel as interface{} (types inferred) and come back equal."""
    conn, _ = service
    futures = [conn.call_future("Plugin.Generic", v, args_type=gob.INTERFACE) for v in values]
    assert [f.result(SAFETY) for f in futures] == values


# -- MuxBroker ---------------------------------------------------------------------------------


@pytest.fixture
def brokers(sessions: tuple[Session, Session]) -> Iterator[tuple[MuxBroker, MuxBroker]]:
    host, plugin = MuxBroker(sessions[0]), MuxBroker(sessions[1])
    yield host, plugin
    host.close()
    plugin.close()


def test_broker_dial_and_accept_both_ways(brokers: tuple[MuxBroker, MuxBroker]) -> None:
    host, plugin = brokers
    for acceptor, dialer in [(plugin, host), (host, plugin)]:
        service_id = acceptor.next_id()
        acceptor.accept_and_serve(service_id, Service())
        conn = ClientConn(dialer.dial(service_id))
        assert call(conn, "Plugin.Echo", b"hi", gob.BYTES, gob.BYTES) == b"hi"
        conn.close()
    assert [host.next_id(), plugin.next_id()] == [2, 2]  # ids are per side


def test_broker_knock_before_accept_waits(brokers: tuple[MuxBroker, MuxBroker]) -> None:
    host, plugin = brokers
    result: list[Any] = []
    dialer = threading.Thread(target=lambda: result.append(host.dial(7)))
    dialer.start()
    stream = plugin.accept(7, timeout=SAFETY)  # starts the acceptor, which parks the knock
    dialer.join(SAFETY)
    assert result and result[0].id == stream.id


def test_broker_accept_times_out(brokers: tuple[MuxBroker, MuxBroker]) -> None:
    with pytest.raises(RPCTimeoutError, match="timeout waiting for accept"):
        brokers[1].accept(5, timeout=0.05)


def test_broker_bad_ack(sessions: tuple[Session, Session]) -> None:
    host = MuxBroker(sessions[0])

    def wrong_ack() -> None:
        stream = sessions[1].accept_stream(SAFETY)
        assert stream is not None
        stream.read_exact(4)
        stream.write(struct.pack("<I", 8))

    threading.Thread(target=wrong_ack, daemon=True).start()
    with pytest.raises(ProtocolError, match=r"bad ack: 8 \(expected 4\)"):
        host.dial(4)


def test_broker_close_wakes_accept(sessions: tuple[Session, Session]) -> None:
    broker = MuxBroker(sessions[1])
    box: list[BaseException] = []

    def accept() -> None:
        try:
            broker.accept(1, timeout=SAFETY)
        except PluginError as exc:
            box.append(exc)

    waiter = threading.Thread(target=accept)
    waiter.start()
    broker.close()
    waiter.join(SAFETY)
    assert box and isinstance(box[0], ConnectionClosedError)


# -- declarations ------------------------------------------------------------------------------


def test_compile_service_names_and_overrides() -> None:
    class Base:
        @netrpc.method("Get", args_type=gob.STRING, reply_type=gob.STRING)
        def get(self, key: str) -> str:
            return "base"

        @netrpc.method
        def Ping(self, args: Any) -> bool:
            return True

    class Child(Base):
        @netrpc.method("Get", args_type=gob.STRING, reply_type=gob.STRING)
        def get(self, key: str) -> str:
            return "child"

    methods, handlers = compile_service(Child())
    assert set(methods) == {"Get", "Ping"}
    assert methods["Get"].arg_type is gob.STRING and methods["Ping"].arg_type is None
    assert handlers["Plugin.Get"].fn("k") == "child"
    assert not handlers["Plugin.Get"].is_async


def test_compile_service_refuses_empty_and_duplicate_services() -> None:
    with pytest.raises(PluginError, match="no net/rpc methods"):
        compile_service(object())

    class Twice:
        @netrpc.method("Get")
        def a(self, x: Any) -> None: ...

        @netrpc.method("Get")
        def b(self, x: Any) -> None: ...

    with pytest.raises(PluginError, match="declared twice"):
        compile_service(Twice())


def test_plugin_wrapper_both_sides() -> None:
    impl = Service()
    plugin: netrpc.Plugin[Any] = netrpc.Plugin(impl, client=lambda c: ("typed", c))
    broker: Any = None  # neither side touches the broker here
    raw: Any = "raw"
    assert plugin.netrpc_server(broker) is impl
    assert plugin.netrpc_client(broker, raw) == ("typed", "raw")
    unwrapped: Any = netrpc.Plugin().netrpc_client(broker, raw)  # no client=: the raw one
    assert unwrapped == "raw"
    with pytest.raises(PluginError, match="no implementation"):
        netrpc.Plugin().netrpc_server(broker)


def test_the_plugin_set_decides_the_protocol() -> None:
    class GRPCOnly:
        def grpc_server(self, broker: Any, server: Any) -> None: ...

        def grpc_client(self, broker: Any, channel: Any) -> None: ...

    assert _protocol_of({"greeter": netrpc.Plugin(Service())}) is Protocol.NETRPC
    assert _protocol_of({"kv": GRPCOnly()}) is Protocol.GRPC
    assert _protocol_of({}) is Protocol.GRPC
    with pytest.raises(ValueError, match="same protocol"):
        _protocol_of({"a": GRPCOnly(), "b": netrpc.Plugin(Service())})
    with pytest.raises(TypeError, match="neither a gRPC plugin"):  # goplugin.PluginSetError
        neither: Any = object()
        _protocol_of({"a": netrpc.Plugin(Service()), "b": neither})


def test_unclaimed_knocks_are_closed(
    brokers: tuple[MuxBroker, MuxBroker], monkeypatch: pytest.MonkeyPatch
) -> None:
    from goplugin.netrpc import _muxbroker

    monkeypatch.setattr(_muxbroker, "ACCEPT_TIMEOUT", 0.05)
    host, plugin = brokers
    with pytest.raises(RPCTimeoutError):
        plugin.accept(1, timeout=0.01)  # the acceptor runs from now on
    with pytest.raises(ConnectionClosedError):
        host.dial(9)  # nobody accepts 9: the knocked stream is reset, as Go closes it
