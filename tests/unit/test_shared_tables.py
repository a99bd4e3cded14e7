"""The SDK's shared tables driven from many threads at once (issue 12 #2's audit).

Each table says in a comment who may touch it and under which lock; each test here lets 16
threads (see ``threaded.collide``) hit one of them in the same instant, many rounds over, and
checks nothing was lost, doubled or left behind. The gob caches have their own file
(test_gob_threads.py); a net/rpc stream's tables are in test_netrpc_calls.py. No processes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from goplugin._backends.aio import wait_future
from goplugin._lazy import lazy_getattr
from goplugin._protocol.internal import ConnInfo
from goplugin._services.broker import BrokerState
from goplugin._services.reflection import LazyReflection
from goplugin._services.stdio import STDERR, STDOUT, StdioBuffer
from goplugin._sync import broker as sync_broker
from goplugin._sync.broker import GRPCBroker
from goplugin._transport import endpoints
from goplugin._transport.grpcmux import GRPCMuxer
from goplugin._yamux.session import Session
from goplugin.errors import PluginError
from goplugin.netrpc import _server
from goplugin.netrpc._client import ClientConn
from goplugin.netrpc._gobtypes import BOOL
from goplugin.netrpc._muxbroker import MuxBroker
from goplugin.netrpc._rpc import EMPTY_STRUCT
from goplugin.netrpc._rpcserver import RPCServer
from goplugin.netrpc._server import Dispatcher

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from threaded import collide, succeeded

SAFETY = 20.0


def settled(condition: Any, timeout: float = SAFETY) -> bool:
    """Poll ``condition`` until true; False only if something is stuck."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture
def sessions() -> Any:
    a, b = socket.socketpair()
    client, server = Session(a, client=True), Session(b, client=False)
    yield client, server
    client.close()
    server.close()


# --- yamux: a session's stream, accept and ping tables ---------------------------------------


@pytest.mark.timeout(120)
def test_session_tables_with_streams_and_pings_from_many_threads(
    sessions: tuple[Session, Session],
) -> None:
    client, server = sessions

    def echo() -> None:
        while True:
            try:
                stream = server.accept_stream()
            except PluginError:
                return
            if stream is None:
                continue

            def serve(s: Any = stream) -> None:
                try:
                    while data := s.read():
                        s.write(data)
                    s.close()
                except PluginError:
                    pass

            threading.Thread(target=serve, daemon=True).start()

    threading.Thread(target=echo, daemon=True).start()

    def work(r: int, i: int) -> bytes:
        if i % 4 == 0:
            assert client.ping(SAFETY) is not None
        stream = client.open_stream()
        payload = f"{r}-{i}".encode() * 100
        stream.write(payload)
        stream.close()
        got = b""
        while chunk := stream.read():
            got += chunk
        return got

    results = succeeded(collide(work, rounds=10))
    assert all(
        x == f"{r}-{i}".encode() * 100 for r, row in enumerate(results) for i, x in enumerate(row)
    )
    # Every stream ended both ways: forgotten on both sides, no ping left waiting.
    assert settled(lambda: not client._streams and not server._streams)
    assert client._pings == {} and not server._accept_queue


# --- MuxBroker: ids, parked streams, the dispatcher it creates --------------------------------


@pytest.mark.timeout(120)
def test_muxbroker_ids_accepts_and_dials_from_many_threads(
    sessions: tuple[Session, Session],
) -> None:
    a, b = MuxBroker(sessions[0]), MuxBroker(sessions[1])
    rounds = 10
    ids = [[0] * 8 for _ in range(rounds)]
    ready = [[threading.Event() for _ in range(8)] for _ in range(rounds)]

    def work(r: int, i: int) -> object:
        pair = i // 2
        if i % 2 == 0:  # acceptors take a fresh id each, and tell their dialer
            ids[r][pair] = a.next_id()
            ready[r][pair].set()
            return a.accept(ids[r][pair], timeout=SAFETY).read_exact(2)
        assert ready[r][pair].wait(SAFETY)
        b.dial(ids[r][pair]).write(b"hi")
        return None

    results = succeeded(collide(work, rounds=rounds))
    assert all(row[i] == b"hi" for row in results for i in range(0, 16, 2))
    taken = sorted(x for row in ids for x in row)
    assert taken == list(range(1, len(taken) + 1))  # unique, none skipped
    assert a._parked == {}
    a.close()
    b.close()


def test_muxbroker_creates_one_dispatcher_for_threads_serving_at_once(
    sessions: tuple[Session, Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    from goplugin import netrpc

    made: list[Dispatcher] = []

    class Counted(Dispatcher):
        def __init__(self) -> None:
            super().__init__()
            made.append(self)

    monkeypatch.setattr(_server, "Dispatcher", Counted)
    monkeypatch.setattr(MuxBroker, "_serve", lambda self, *args: None)  # no accept needed

    class Impl:
        @netrpc.method("Ping", args_type=BOOL, reply_type=EMPTY_STRUCT)
        def ping(self, args: bool) -> dict[str, Any]:
            return {}

    brokers = [MuxBroker(sessions[0]) for _ in range(200)]
    succeeded(collide(lambda r, i: brokers[r].accept_and_serve(i, Impl()), rounds=len(brokers)))
    assert len(made) == len(brokers)  # one each, however many threads served at once
    for broker in brokers:
        assert broker._dispatcher is broker._own_dispatcher is not None
        broker._own_dispatcher.close()


# --- GRPCBroker's state: early messages, waiters, knock handlers -------------------------------


@pytest.mark.timeout(120)
def test_broker_state_delivers_each_message_once_whoever_comes_first() -> None:
    state = BrokerState()

    def work(r: int, i: int) -> object:
        service_id = r * 100 + i // 2
        if i % 2:
            state.receive(ConnInfo(service_id=service_id, address=f"addr{service_id}"))
            return None
        return state.expect(service_id).result(SAFETY).address

    results = succeeded(collide(work, rounds=30))
    for r, row in enumerate(results):
        assert row[0::2] == [f"addr{r * 100 + i}" for i in range(8)]
    assert state._early == {} and state._waiting == {}
    waiting = state.expect(999)
    state.close(PluginError("closed"))
    with pytest.raises(PluginError):
        waiting.result(1)


# --- GRPCBroker (sync flavour): servers and relays to stop, against close() --------------------


@pytest.mark.timeout(180)
def test_grpc_broker_stops_every_server_even_one_started_while_closing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """accept_and_serve racing close(): on main a server that finished starting after close()
    had walked the list was never stopped."""
    listeners: list[Any] = []
    real_listen = endpoints.listen

    def recording(*args: Any, **kwargs: Any) -> Any:
        listener = real_listen(*args, **kwargs)
        listeners.append(listener)
        return listener

    monkeypatch.setattr(sync_broker, "listen", recording)
    brokers = [GRPCBroker(socket_dir=str(tmp_path), grpc_options=[]) for _ in range(4)]

    def work(r: int, i: int) -> object:
        if i == 0:
            time.sleep(0.01 * r)  # close at a different point of the servers' start each round
            brokers[r].close()
            return None
        try:
            return brokers[r].accept_and_serve(i, lambda server: None)
        except PluginError:
            return None  # refused: the broker was closed first

    succeeded(collide(work, threads=6, rounds=len(brokers), switch_interval=1e-4))
    assert listeners
    for listener in listeners:
        with pytest.raises(OSError), socket.socket(socket.AF_UNIX) as probe:
            probe.settimeout(2)
            probe.connect(listener.address)  # still served: the server was never stopped


# --- GRPCMuxer: knocks and backends ------------------------------------------------------------


def test_muxer_knock_and_backend_tables(tmp_path: Path) -> None:
    muxer = GRPCMuxer(server=True, socket_dir=str(tmp_path))

    def work(r: int, i: int) -> str:
        muxer.serve(r * 16 + i, f"addr{i}")
        return muxer.accept_knock(r * 16 + i)

    results = succeeded(collide(work, rounds=20))
    assert all(x == "" for row in results for x in row)
    assert sorted(muxer._knocked) == list(range(20 * 16))
    assert len(muxer._backends) == 20 * 16
    muxer.close()


# --- plugin side: the net/rpc server's connection table ---------------------------------------


@pytest.mark.timeout(120)
def test_rpc_server_connection_table(tmp_path: Path) -> None:
    dispatcher = Dispatcher()
    server = RPCServer({}, StdioBuffer(), dispatcher, on_quit=lambda: None)
    listener = socket.socket(socket.AF_UNIX)
    path = str(tmp_path / "s")
    listener.bind(path)
    listener.listen(64)
    server.serve(listener)

    def work(r: int, i: int) -> object:
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(path)
        session = Session(sock, client=True)
        try:
            control = session.open_stream()
            session.open_stream()
            session.open_stream()  # stdout and stderr, as a go-plugin host opens them
            conn = ClientConn(control)
            return conn.call_future("Control.Ping", True, EMPTY_STRUCT, args_type=BOOL).result(
                SAFETY
            )
        finally:
            session.close()

    results = succeeded(collide(work, rounds=5))
    assert all(x == {} for row in results for x in row)
    assert settled(lambda: not server._conns)
    server.close()
    dispatcher.close()


# --- stdio capture: chunks and wakers ----------------------------------------------------------


def test_stdio_buffer_keeps_every_chunk_and_waker_straight() -> None:
    buffer = StdioBuffer()

    def wake() -> None:
        pass

    def work(r: int, i: int) -> list[tuple[int, bytes]] | None:
        if i == 0:
            return buffer.pop_all()
        if i % 5 == 0:
            buffer.add_waker(wake)
            buffer.push(STDERR, b"w")
            buffer.remove_waker(wake)
            return None
        buffer.push(STDOUT, f"{r}.{i};".encode())
        return None

    results = succeeded(collide(work, rounds=50))
    popped = [c for row in results for c in (row[0] or [])]
    chunks = popped + buffer.pop_all()
    out = sorted(data for channel, data in chunks if channel == STDOUT)
    want = sorted(f"{r}.{i};".encode() for r in range(50) for i in range(1, 16) if i % 5)
    assert out == want
    assert sum(1 for channel, _ in chunks if channel == STDERR) == 50 * 3
    assert buffer._wakers == []


# --- lazily resolved public names --------------------------------------------------------------


def test_lazy_names_resolve_to_one_object_from_many_threads() -> None:
    names = {
        "Encoder": ".netrpc._gobenc",
        "Decoder": ".netrpc._gobdec",
        "Session": "._yamux.session",
    }
    rounds: list[dict[str, Any]] = [{"__name__": f"fake{r}"} for r in range(30)]
    resolvers = [lazy_getattr("goplugin", names, ns) for ns in rounds]
    order = sorted(names)
    results = succeeded(collide(lambda r, i: resolvers[r](order[i % 3]), rounds=len(rounds)))
    from goplugin.netrpc._gobdec import Decoder
    from goplugin.netrpc._gobenc import Encoder

    real = {"Encoder": Encoder, "Decoder": Decoder, "Session": Session}
    for ns, row in zip(rounds, results, strict=True):
        assert row == [real[order[i % 3]] for i in range(len(row))]
        assert {k: ns[k] for k in names} == real


# --- asyncio waits on another thread's futures: one mirror per loop ---------------------------


@pytest.mark.timeout(120)
def test_wait_future_mirrors_from_many_loops_at_once() -> None:
    futures: list[concurrent.futures.Future[int]] = [concurrent.futures.Future() for _ in range(10)]

    async def wait(fut: concurrent.futures.Future[int]) -> int:
        for _ in range(3):  # timed-out waits reuse this loop's mirror
            try:
                await wait_future(fut, 0.001)
            except TimeoutError:
                pass
        return await wait_future(fut, SAFETY)

    def work(r: int, i: int) -> object:
        fut = futures[r]
        if i == 0:  # resolve it once every other thread's loop waits on it
            mirrors = fut.__dict__.setdefault("_goplugin_mirrors", {})
            assert settled(lambda: len(mirrors) == 15)
            fut.set_result(r)
            return r
        return asyncio.run(wait(fut))

    results = succeeded(collide(work, rounds=len(futures), switch_interval=1e-4))
    for r, (fut, row) in enumerate(zip(futures, results, strict=True)):
        assert row == [r] * len(row)
        mirrors = fut.__dict__["_goplugin_mirrors"]
        assert len(mirrors) == len(row) - 1  # one per waiting loop, not one per wait
        assert len(fut._done_callbacks) == len(row) - 1  # type: ignore[attr-defined]


# --- gRPC reflection, built on first use --------------------------------------------------------


def test_reflection_is_built_once_for_threads_asking_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[object] = []

    def build(self: LazyReflection) -> Any:
        time.sleep(0.01)  # as long as importing grpc_reflection takes, near enough
        handler = object()
        built.append(handler)
        return handler

    monkeypatch.setattr(LazyReflection, "_build", build)

    class Details:
        method = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"

    handlers = [LazyReflection(["svc"], aio=False) for _ in range(20)]
    details: Any = Details()
    results = succeeded(collide(lambda r, i: handlers[r].service(details), rounds=len(handlers)))
    assert len(built) == len(handlers)
    assert all(len({id(x) for x in row}) == 1 for row in results)
