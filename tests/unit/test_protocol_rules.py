"""Protocol rules of docs/protocol.md that our sans-IO parts implement, checked without
processes: the GRPCBroker's message routing and timings, the stdio buffer, what a host may not
combine. (The Go side of each is in the interop tests the document links next to these.)
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from goplugin import HandshakeConfig, PluginClient, ReattachConfig
from goplugin._protocol.handshake import Protocol
from goplugin._protocol.internal import ConnInfo
from goplugin._services import broker as _brokercore
from goplugin._services.broker import PENDING_TTL, BrokerState
from goplugin._services.stdio import MAX_BUFFERED, STDERR, STDOUT, StdioBuffer
from goplugin._sync.broker import GRPCBroker
from goplugin.errors import PluginError

HANDSHAKE = HandshakeConfig(1, "BASIC_PLUGIN", "hello")


def knock(service_id: int, *, ack: bool = False, error: str = "") -> ConnInfo:
    return ConnInfo(service_id=service_id, knock=ConnInfo.Knock(knock=True, ack=ack, error=error))


def test_knocks_go_to_the_acceptor_everything_else_to_the_dialer() -> None:
    """A message with knock set and ack unset asks the acceptor of that id for a stream; an
    address (no knock) or a knock's acknowledgement answers a dialer."""
    state = BrokerState()
    knocks: list[ConnInfo] = []
    state.on_knock(4, knocks.append)
    state.receive(knock(4))
    assert [k.service_id for k in knocks] == [4]
    waiting = state.expect(4)
    state.receive(knock(4, ack=True))
    assert waiting.result(0).knock.ack
    address = state.expect(5)
    state.receive(ConnInfo(service_id=5, network="unix", address="/p"))
    assert address.result(0).address == "/p"
    state.receive(knock(6))  # nobody accepts 6: dropped, as Go drops it
    assert not state.expect(6).done()


def test_an_early_conninfo_waits_5_s_for_its_dial_and_the_first_one_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(_brokercore, "time", type("Clock", (), {"monotonic": lambda: now[0]}))
    state = BrokerState()
    state.receive(ConnInfo(service_id=1, address="/first"))
    state.receive(ConnInfo(service_id=1, address="/second"))  # one kept per id: the first
    now[0] += PENDING_TTL - 0.1
    assert state.expect(1).result(0).address == "/first"
    state.receive(ConnInfo(service_id=2, address="/late"))
    now[0] += PENDING_TTL + 0.1
    assert not state.expect(2).done()  # expired: the dial now waits for a new one


def test_a_dial_waits_at_most_its_timeout_for_the_address(tmp_path: Path) -> None:
    broker = GRPCBroker(socket_dir=str(tmp_path), grpc_options=[])
    start = time.monotonic()
    with pytest.raises(PluginError, match="timeout waiting for connection info"):
        broker.dial(3, timeout=0.2)
    assert time.monotonic() - start < 5
    broker.close()


def test_a_knock_waits_at_most_its_timeout_for_the_ack(tmp_path: Path) -> None:
    broker = GRPCBroker(socket_dir=str(tmp_path), grpc_options=[])
    with pytest.raises(PluginError, match="timeout waiting for multiplexing knock handshake"):
        broker._knock(9, 0.2)
    broker.close()


def test_a_knock_answered_with_an_error_fails_the_dial(tmp_path: Path) -> None:
    broker = GRPCBroker(socket_dir=str(tmp_path), grpc_options=[])

    def answer() -> None:
        time.sleep(0.1)
        broker._state.receive(knock(9, ack=True, error="no listener for id 9"))

    threading.Thread(target=answer).start()
    with pytest.raises(PluginError, match="failed to knock for id 9: no listener for id 9"):
        broker._knock(9, 5.0)
    broker.close()


def test_stdio_keeps_order_and_channels_and_bounds_what_nobody_reads() -> None:
    """Chunks keep their order and channel; while no host reads, the plugin never blocks: the
    oldest chunks go beyond MAX_BUFFERED bytes (1 MiB)."""
    buffer = StdioBuffer()
    buffer.push(STDOUT, b"a")
    buffer.push(STDERR, b"b")
    buffer.push(STDOUT, b"")  # empty writes are not chunks
    assert buffer.pop_all() == [(STDOUT, b"a"), (STDERR, b"b")]
    chunk = b"x" * 4096
    for _ in range(2 * MAX_BUFFERED // len(chunk)):
        buffer.push(STDOUT, chunk)
    kept = buffer.pop_all()
    assert sum(len(data) for _, data in kept) <= MAX_BUFFERED == 1 << 20


def test_a_host_cannot_multiplex_a_reattached_plugin() -> None:
    reattach = ReattachConfig(Protocol.GRPC, 1, "unix", "/p", 1)
    with pytest.raises(ValueError, match="multiplexing"):
        PluginClient(reattach=reattach, handshake=HANDSHAKE, multiplex=True)


def test_our_defaults_are_go_plugins(tmp_path: Path) -> None:
    """The timings and limits go-plugin v1.8.0 and yamux v0.1.2 use, as ours: start timeout
    1 min, stop grace 2 s, ports 10000-25000, broker waits 5 s, yamux keepalive every 30 s
    with 10 s to answer and 256 streams waiting to be accepted, a 256 KiB window."""
    from goplugin._yamux import frames, session
    from goplugin.netrpc._muxbroker import ACCEPT_TIMEOUT

    config = PluginClient(["plugin"], handshake=HANDSHAKE)._config
    assert (config.start_timeout, config.kill_timeout) == (60.0, 2.0)
    assert (config.min_port, config.max_port) == (10000, 25000)
    assert PENDING_TTL == ACCEPT_TIMEOUT == 5.0
    assert (session.KEEPALIVE_INTERVAL, session.KEEPALIVE_TIMEOUT) == (30.0, 10.0)
    assert frames.DEFAULT_ACCEPT_BACKLOG == 256
    assert frames.INITIAL_STREAM_WINDOW == 256 * 1024


def test_broker_ids_count_from_1_on_each_side(tmp_path: Path) -> None:
    host = GRPCBroker(socket_dir=str(tmp_path), grpc_options=[])
    plugin = GRPCBroker(socket_dir=str(tmp_path), grpc_options=[])
    assert [host.next_id(), host.next_id(), plugin.next_id()] == [1, 2, 1]
    host.close()
    plugin.close()


def test_a_python_plugin_redirects_print_but_not_its_crashes() -> None:
    """After the handshake ``print`` goes to the host's stdio stream; an uncaught exception's
    traceback still goes to the real stderr, which the host logs, and so does what no stream
    took by the time the plugin stops (a host that never read it still sees it)."""
    import io
    import sys

    from goplugin._services.stdio import redirect_stdio

    buffer, real_stderr = StdioBuffer(), io.StringIO()
    restore = redirect_stdio(buffer, real_stderr)
    try:
        print("to the host")
        print("also", file=sys.stderr)
        streamed = buffer.pop_all()  # what the GRPCStdio stream takes
        try:
            raise RuntimeError("boom")
        except RuntimeError as exc:
            sys.excepthook(type(exc), exc, exc.__traceback__)
        print("never streamed")
    finally:
        restore()
    assert streamed == [(STDOUT, b"to the host\n"), (STDERR, b"also\n")]
    assert "RuntimeError: boom" in real_stderr.getvalue()
    assert "to the host" not in real_stderr.getvalue()
    assert real_stderr.getvalue().endswith("never streamed\n")
    assert buffer.pop_all() == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("server_curve", "client_curve", "works"),
    [
        ("P-256", "P-256", True),
        ("P-384", "P-384", True),
        ("P-521", "P-521", False),  # go-plugin's AutoMTLS, on both sides
        ("P-256", "P-521", False),  # our plugin, a Go host's certificate
        ("P-521", "P-256", False),  # a Go plugin, our certificate
    ],
)
def test_grpcio_tls_cannot_use_p521(server_curve: str, client_curve: str, works: bool) -> None:
    """grpcio's own TLS (BoringSSL) fails the handshake as soon as a P-521 certificate is on
    either side, which go-plugin's AutoMTLS always brings: why ours relays TLS through
    OpenSSL (Python's ssl) when it meets one."""
    import grpc

    from goplugin._transport.mtls import (
        generate_identity,
        grpc_channel_credentials,
        grpc_server_credentials,
    )

    server_id, client_id = generate_identity(server_curve), generate_identity(client_curve)
    server = grpc.server(ThreadPoolExecutor(2))
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "t.T", {"Echo": grpc.unary_unary_rpc_method_handler(lambda r, c: r)}
            )
        ]
    )
    port = server.add_secure_port(
        "127.0.0.1:0", grpc_server_credentials(server_id, client_id.cert_der)
    )
    server.start()
    credentials, options = grpc_channel_credentials(client_id, server_id.cert_der)
    try:
        with grpc.secure_channel(f"127.0.0.1:{port}", credentials, options) as channel:
            echo: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary("/t.T/Echo")
            try:
                assert echo(b"hi", timeout=10) == b"hi"
                worked = True
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.UNAVAILABLE
                worked = False
    finally:
        server.stop(None)
    assert worked is works
