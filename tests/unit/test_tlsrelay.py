"""The OpenSSL relays, in one process: byte-exact, half-close, refusals, clean shutdown.

Both relay roles run here against each other (real sockets and threads, no child process);
tests/interop/test_mtls_go.py puts them in front of real Go peers.
"""

from __future__ import annotations

import gc
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest

from goplugin._transport import tlslink
from goplugin._transport.mtls import (
    Identity,
    generate_identity,
    grpc_server_credentials,
    mtls_client,
    mtls_server,
)
from goplugin._transport.tlsrelay import TLSClientRelay, TLSServerRelay, dial, listen_unix
from goplugin.errors import TLSError

ECHO = "/bench.Echo/Echo"


@pytest.fixture(scope="module")
def host() -> Identity:
    return generate_identity("P-521")


@pytest.fixture(scope="module")
def plugin() -> Identity:
    return generate_identity("P-521")


class EchoBackend:
    """A raw unix-socket server that echoes everything, then closes after the client's EOF."""

    def __init__(self, path: str) -> None:
        self.listener = listen_unix(path)
        self.path = path
        self.accepted = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def close(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self._thread.join(5)


@pytest.fixture
def pair(
    tmp_path: Path, host: Identity, plugin: Identity
) -> Iterator[tuple[TLSClientRelay, TLSServerRelay, EchoBackend]]:
    backend = EchoBackend(str(tmp_path / "backend.sock"))
    server = TLSServerRelay(
        listen_unix(str(tmp_path / "tls.sock")), mtls_server(plugin, host.cert_der), backend.path
    )
    client = TLSClientRelay("unix", str(tmp_path / "tls.sock"), mtls_client(host, plugin.cert_der))
    with server, client:
        yield client, server, backend
    backend.close()


def _exchange(path: str, payload: bytes) -> bytes:
    """Send everything, half-close, read until EOF: what comes back must be the same bytes."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(path)
        sock.settimeout(20)
        failed: list[OSError] = []

        def send() -> None:
            try:
                sock.sendall(payload)
                sock.shutdown(socket.SHUT_WR)
            except OSError as exc:  # the relay cut the connection: the caller's OSError
                failed.append(exc)

        sender = threading.Thread(target=send)
        sender.start()
        chunks = []
        try:
            while data := sock.recv(1 << 20):
                chunks.append(data)
        finally:
            sender.join()
        if failed:
            raise failed[0]
    return b"".join(chunks)


@pytest.mark.parametrize("size", [0, 1, 16 * 1024 + 1, 3 * 1024 * 1024 + 7])
def test_bytes_pass_unchanged_and_half_close_propagates(pair: Any, size: int) -> None:
    client, server, _ = pair
    payload = os.urandom(size)
    assert _exchange(client.path, payload) == payload
    assert client.last_error is None and server.last_error is None


def test_many_connections_at_once(pair: Any) -> None:
    client, _, backend = pair
    payloads = [os.urandom(100_000 + i) for i in range(8)]
    with futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda p: _exchange(client.path, p), payloads))
    assert results == payloads
    assert backend.accepted == 8


def _reflect(request: bytes, context: grpc.ServicerContext) -> bytes:
    return request


@pytest.fixture
def grpc_backend(tmp_path: Path) -> Iterator[str]:
    server = grpc.server(futures.ThreadPoolExecutor(2))
    handler: grpc.RpcMethodHandler[bytes, bytes] = grpc.unary_unary_rpc_method_handler(_reflect)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("bench.Echo", {"Echo": handler}),)
    )
    path = str(tmp_path / "grpc.sock")
    server.add_insecure_port("unix:" + path)
    server.start()
    yield path
    server.stop(0)


def _grpc_relays(
    tmp_path: Path, backend: str, host: Identity, plugin: Identity, network: str = "unix"
) -> tuple[TLSClientRelay, TLSServerRelay]:
    if network == "unix":
        listener, address = listen_unix(str(tmp_path / "tls.sock")), str(tmp_path / "tls.sock")
    else:
        listener = socket.create_server(("127.0.0.1", 0))
        address = f"127.0.0.1:{listener.getsockname()[1]}"
    server = TLSServerRelay(listener, mtls_server(plugin, host.cert_der), backend)
    client = TLSClientRelay(network, address, mtls_client(host, plugin.cert_der))
    return client, server


def _echo(target: str, payload: bytes, timeout: float = 10) -> bytes:
    options = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]
    with grpc.insecure_channel(target, options) as channel:
        call: Any = channel.unary_unary(ECHO)
        reply: bytes = call(payload, timeout=timeout)
        return reply


@pytest.mark.parametrize("network", ["unix", "tcp"])
def test_grpcio_through_both_relays(
    tmp_path: Path, grpc_backend: str, host: Identity, plugin: Identity, network: str
) -> None:
    client, server = _grpc_relays(tmp_path, grpc_backend, host, plugin, network)
    with server, client:
        assert _echo(client.target, b"hello") == b"hello"
        big = os.urandom(3 * 1024 * 1024)
        assert _echo(client.target, big) == big  # a second connection: reconnects work
    assert client.last_error is None


def test_client_relay_refuses_a_server_with_another_certificate(
    tmp_path: Path, grpc_backend: str, host: Identity, plugin: Identity
) -> None:
    impostor = generate_identity()
    server = TLSServerRelay(
        listen_unix(str(tmp_path / "tls.sock")), mtls_server(impostor, host.cert_der), grpc_backend
    )
    client = TLSClientRelay("unix", str(tmp_path / "tls.sock"), mtls_client(host, plugin.cert_der))
    with server, client, pytest.raises(grpc.RpcError) as failure:
        _echo(client.target, b"x", timeout=3)
    assert failure.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    assert isinstance(client.last_error, ssl.SSLCertVerificationError)


def test_server_relay_refuses_a_client_with_another_certificate(
    tmp_path: Path, grpc_backend: str, host: Identity, plugin: Identity
) -> None:
    intruder = generate_identity()
    server = TLSServerRelay(
        listen_unix(str(tmp_path / "tls.sock")), mtls_server(plugin, host.cert_der), grpc_backend
    )
    client = TLSClientRelay(
        "unix", str(tmp_path / "tls.sock"), mtls_client(intruder, plugin.cert_der)
    )
    with server, client, pytest.raises(grpc.RpcError):
        _echo(client.target, b"x", timeout=3)
    assert isinstance(server.last_error, ssl.SSLError)


def test_server_relay_refuses_plaintext_grpc(
    tmp_path: Path, grpc_backend: str, host: Identity, plugin: Identity
) -> None:
    unused, server = _grpc_relays(tmp_path, grpc_backend, host, plugin)
    unused.close()
    with server, pytest.raises(grpc.RpcError) as failure:
        _echo("unix:" + str(tmp_path / "tls.sock"), b"x", timeout=3)
    assert failure.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    assert isinstance(server.last_error, ssl.SSLError)


def test_stalled_handshake_times_out_and_others_are_served(
    pair: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    client, server, _ = pair
    monkeypatch.setattr(tlslink, "HANDSHAKE_TIMEOUT", 0.3)
    with socket.socket(socket.AF_UNIX) as silent:
        silent.connect(str(tmp_path / "tls.sock"))
        assert _exchange(client.path, b"still served") == b"still served"
        silent.settimeout(5)
        assert silent.recv(10) == b""  # the relay gave up on us
    assert isinstance(server.last_error, (TimeoutError, OSError))


def test_roles_are_checked(host: Identity, plugin: Identity, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="client-side"):
        TLSClientRelay("unix", "/nowhere", mtls_server(plugin, host.cert_der))
    with pytest.raises(ValueError, match="network"):
        TLSClientRelay("udp", "/nowhere", mtls_client(host, plugin.cert_der))
    with (
        listen_unix(str(tmp_path / "s")) as listener,
        pytest.raises(ValueError, match="server-side"),
    ):
        TLSServerRelay(listener, mtls_client(host, plugin.cert_der), "/nowhere")


def test_unreachable_peer_is_reported(host: Identity, plugin: Identity, tmp_path: Path) -> None:
    client = TLSClientRelay("unix", str(tmp_path / "nobody"), mtls_client(host, plugin.cert_der))
    with client, pytest.raises(grpc.RpcError):
        _echo(client.target, b"x", timeout=2)
    assert isinstance(client.last_error, OSError)


def _relay_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("goplugin-tls")]


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_close_ends_threads_closes_sockets_and_removes_the_directory(
    tmp_path: Path, host: Identity, plugin: Identity
) -> None:
    backend = EchoBackend(str(tmp_path / "backend.sock"))
    before = _fds()
    server = TLSServerRelay(
        listen_unix(str(tmp_path / "tls.sock")), mtls_server(plugin, host.cert_der), backend.path
    )
    client = TLSClientRelay("unix", str(tmp_path / "tls.sock"), mtls_client(host, plugin.cert_der))
    server.start()
    client.start()
    # Leave two connections open mid-stream, and one stalled before its handshake.
    open_conns = []
    for _ in range(2):
        conn = socket.socket(socket.AF_UNIX)
        conn.connect(client.path)
        conn.sendall(b"hello")
        conn.settimeout(10)
        assert conn.recv(5) == b"hello"
        open_conns.append(conn)
    stalled = socket.socket(socket.AF_UNIX)
    stalled.connect(str(tmp_path / "tls.sock"))
    assert len(_relay_threads()) >= 2 + 4 * 2
    client.close()
    server.close()
    assert _relay_threads() == []
    for conn in open_conns:
        assert conn.recv(10) == b""
        conn.close()
    stalled.close()
    backend.close()
    for _ in range(200):  # the echo backend's own threads close their ends
        if _fds() <= before:
            break
        time.sleep(0.05)
    assert _fds() <= before
    assert not os.path.exists(os.path.dirname(client.path))
    client.close()  # idempotent
    with pytest.raises(OSError):
        _exchange(client.path, b"")


def test_relay_in_a_caller_chosen_directory(
    tmp_path: Path, host: Identity, plugin: Identity
) -> None:
    client = TLSClientRelay(
        "unix", "/nowhere", mtls_client(host, plugin.cert_der), socket_dir=str(tmp_path)
    )
    assert os.path.dirname(client.path) == str(tmp_path)
    assert client.target == "unix:" + client.path
    with client:
        assert os.path.exists(client.path)
    assert not os.path.exists(client.path) and tmp_path.exists()


def test_a_peer_other_than_the_pinned_one_is_cut_off(
    pair: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _, _ = pair
    # Same trust anchor, but pinned to other bytes: the handshake verifies, the pin does not.
    monkeypatch.setattr(client, "mtls", type(client.mtls)(client.mtls.ssl_context, b"?", False))
    try:
        echoed = _exchange(client.path, b"x" * 10)
    except OSError:
        echoed = b""
    assert echoed == b""
    assert isinstance(client.last_error, TLSError)


def test_dial_uses_grpcio_tls_between_python_peers(tmp_path: Path) -> None:
    host, plugin = generate_identity("P-256"), generate_identity("P-384")
    server = grpc.server(futures.ThreadPoolExecutor(2))
    handler: grpc.RpcMethodHandler[bytes, bytes] = grpc.unary_unary_rpc_method_handler(_reflect)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("bench.Echo", {"Echo": handler}),)
    )
    path = str(tmp_path / "native.sock")
    server.add_secure_port("unix:" + path, grpc_server_credentials(plugin, host.cert_der))
    server.start()
    try:
        way = dial(host, "unix", path, plugin.cert_der)
        assert way.relay is None and way.credentials is not None
        with grpc.secure_channel(way.target, way.credentials, way.options) as channel:
            call: Any = channel.unary_unary(ECHO)
            assert call(b"native", timeout=10) == b"native"
        way.close()
        # The same server refuses a client with another certificate.
        intruder = dial(generate_identity("P-256"), "unix", path, plugin.cert_der)
        assert intruder.credentials is not None
        with (
            grpc.secure_channel(intruder.target, intruder.credentials, intruder.options) as ch,
            pytest.raises(grpc.RpcError),
        ):
            intruding: grpc.UnaryUnaryMultiCallable[bytes, bytes] = ch.unary_unary(ECHO)
            intruding(b"x", timeout=3)
    finally:
        server.stop(0)


def test_dial_relays_when_a_p521_certificate_is_involved(
    tmp_path: Path, grpc_backend: str, host: Identity, plugin: Identity
) -> None:
    unused, server = _grpc_relays(tmp_path, grpc_backend, host, plugin)
    unused.close()
    with server:
        way = dial(host, "unix", str(tmp_path / "tls.sock"), plugin.cert_der)
        assert way.relay is not None and way.credentials is None and way.options == []
        assert _echo(way.target, b"relayed") == b"relayed"
        way.close()
    assert not os.path.exists(way.relay.path)


def test_data_sent_with_the_last_handshake_message_is_not_held_back(
    pair: Any, host: Identity, plugin: Identity, tmp_path: Path
) -> None:
    # A TLS 1.3 client may send its Finished and its first records in one write; the
    # relay must decrypt those without waiting for more bytes that will never come.
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    mtls = mtls_client(host, plugin.cert_der)
    tls = mtls.ssl_context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(tmp_path / "tls.sock"))
        sock.settimeout(10)
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                sock.sendall(outgoing.read())
                incoming.write(sock.recv(65536))
        tls.write(b"early bird")
        sock.sendall(outgoing.read())  # Finished and the data, in one segment
        echoed = b""
        while len(echoed) < 10:
            incoming.write(sock.recv(65536))
            try:
                echoed += tls.read(100)
            except ssl.SSLWantReadError:
                continue
    assert echoed == b"early bird"


def test_a_forgotten_relay_leaves_no_directory(host: Identity, plugin: Identity) -> None:
    relay = TLSClientRelay("unix", "/nowhere", mtls_client(host, plugin.cert_der))
    directory = os.path.dirname(relay.path)
    assert os.path.isdir(directory)
    relay._listener.close()
    del relay
    gc.collect()
    assert not os.path.exists(directory)
