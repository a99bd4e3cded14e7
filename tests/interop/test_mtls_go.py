"""AutoMTLS against real, unmodified Go peers, through the OpenSSL relays.

(a) Python host → go-plugin's own examples/grpc plugin-go-grpc (P-521, grpc-go 1.61) and our
    mtlsecho plugin (grpc-go 1.85, which enforces ALPN h2), launched the way a host does.
(b) Go host (plugin.NewClient with AutoMTLS, testprogs/mtlshost) → a Python plugin behind a
    TLSServerRelay (tests/plugins/mtls_plugin.py); and that plugin refuses everyone else.
"""

from __future__ import annotations

import os
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from gobuild import go_program

from goplugin._protocol.handshake import Handshake, Protocol, parse_handshake
from goplugin._protocol.x509 import certificate_curve
from goplugin._transport.mtls import Identity, generate_identity, mtls_client
from goplugin._transport.tlsrelay import TLSClientRelay

pytestmark = pytest.mark.interop

PLUGIN_ENV = {
    "BASIC_PLUGIN": "hello",
    "PLUGIN_PROTOCOL_VERSIONS": "1",
    "PLUGIN_MIN_PORT": "10000",
    "PLUGIN_MAX_PORT": "25000",
}


@dataclass
class Launched:
    handshake: Handshake
    proc: subprocess.Popen[str]
    stderr: str = ""


@contextmanager
def launched(argv: list[str], host: Identity, **env: str) -> Iterator[Launched]:
    """Start a plugin like a go-plugin host with AutoMTLS does; kill it afterwards."""
    proc = subprocess.Popen(
        argv,
        env={**os.environ, **PLUGIN_ENV, "PLUGIN_CLIENT_CERT": host.cert_pem.decode(), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    plugin = Launched(parse_handshake(line) if line else None, proc)  # type: ignore[arg-type]
    try:
        assert line, proc.communicate(timeout=10)[1]
        yield plugin
    finally:
        if proc.poll() is None:
            proc.kill()
        plugin.stderr = proc.communicate(timeout=10)[1]


@contextmanager
def relay_to(handshake: Handshake, host: Identity) -> Iterator[TLSClientRelay]:
    assert handshake.server_cert is not None
    relay = TLSClientRelay(
        handshake.network, handshake.address, mtls_client(host, handshake.server_cert)
    )
    with relay:
        yield relay


def channel(target: str) -> grpc.Channel:
    return grpc.insecure_channel(target, [("grpc.use_local_subchannel_pool", 1)])


# -- (a) Python host, Go plugin ---------------------------------------------------------------


@pytest.mark.parametrize("host_curve", ["P-521", "P-256"])
def test_kv_through_the_relay_to_go_plugin(
    go_kv_plugin: Path, generated: Path, workdir: Path, host_curve: str
) -> None:
    from gen.kv import kv_goplugin, kv_pb2

    host = generate_identity(host_curve)
    with launched([str(go_kv_plugin)], host) as plugin:
        hs = plugin.handshake
        assert hs.protocol is Protocol.GRPC and hs.network == "unix"
        assert hs.server_cert is not None
        assert certificate_curve(hs.server_cert) == "P-521"  # go-plugin's generateCert
        go_cert = x509.load_der_x509_certificate(hs.server_cert)
        assert go_cert.subject.rfc4514_string() == "CN=localhost,O=HashiCorp"
        with relay_to(hs, host) as relay, channel(relay.target) as ch:
            kv = kv_goplugin.KVClient(ch)
            kv.put(kv_pb2.PutRequest(key="hello", value=b"world"), timeout=20)
            value = kv.get(kv_pb2.GetRequest(key="hello"), timeout=20).value
            # go-plugin's controller: the plugin shuts down cleanly when asked through TLS
            # (it stops its server at once, so the call itself may end UNAVAILABLE).
            try:
                shutdown: grpc.UnaryUnaryMultiCallable[bytes, bytes]
                shutdown = ch.unary_unary("/plugin.GRPCController/Shutdown")
                shutdown(b"", timeout=20)
            except grpc.RpcError as exc:
                assert exc.code() is grpc.StatusCode.UNAVAILABLE
            assert plugin.proc.wait(timeout=10) == 0
        assert relay.last_error is None
    assert value == b"world\n\nWritten from plugin-go-grpc"
    assert (workdir / "kv_hello").exists()


def test_go_plugin_refuses_a_wrong_client_certificate(
    go_kv_plugin: Path, generated: Path, workdir: Path
) -> None:
    from gen.kv import kv_goplugin, kv_pb2

    host, intruder = generate_identity("P-521"), generate_identity("P-521")
    with launched([str(go_kv_plugin)], host) as plugin:
        hs = plugin.handshake
        with relay_to(hs, intruder) as relay, channel(relay.target) as ch:
            with pytest.raises(grpc.RpcError) as failure:
                kv_goplugin.KVClient(ch).get(kv_pb2.GetRequest(key="x"), timeout=5)
            assert failure.value.code() in (
                grpc.StatusCode.UNAVAILABLE,
                grpc.StatusCode.DEADLINE_EXCEEDED,
            )
        # TLS 1.3: the Go server's alert arrives after our side of the handshake has ended.
        assert isinstance(relay.last_error, ssl.SSLError)
        assert relay.last_error.reason == "TLSV1_ALERT_UNKNOWN_CA"
        # ...while the right certificate still works on the same plugin.
        with relay_to(hs, host) as relay, channel(relay.target) as ch:
            kv_goplugin.KVClient(ch).put(kv_pb2.PutRequest(key="k", value=b"v"), timeout=20)


def test_go_plugin_refuses_plaintext(go_kv_plugin: Path, generated: Path, workdir: Path) -> None:
    from gen.kv import kv_goplugin, kv_pb2

    with (
        launched([str(go_kv_plugin)], generate_identity()) as plugin,
        channel("unix:" + plugin.handshake.address) as ch,
        pytest.raises(grpc.RpcError),
    ):
        kv_goplugin.KVClient(ch).get(kv_pb2.GetRequest(key="x"), timeout=3)


def test_relay_to_grpc_go_that_enforces_alpn(workdir: Path) -> None:
    # mtlsecho is built with grpc-go 1.85: its server refuses TLS clients without ALPN h2.
    echo = go_program("./testprogs/mtlsecho")
    host = generate_identity("P-521")
    payload = b"\x0a\x05hello"  # google.protobuf.BytesValue{value: "hello"}
    big = b"\x0a\x80\x80\x40" + os.urandom(1 << 20)  # 1 MiB value
    with (
        launched([str(echo)], host) as plugin,
        relay_to(plugin.handshake, host) as relay,
        channel(relay.target) as ch,
    ):
        call: Any = ch.unary_unary("/bench.Echo/Echo")
        assert call(payload, timeout=20) == payload
        assert call(big, timeout=20) == big


# -- (b) Go host, Python plugin (goplugin.serve) ----------------------------------------------


def test_go_host_with_automtls_uses_the_python_plugin(
    py_kv_plugin: list[str], workdir: Path
) -> None:
    host = go_program("./testprogs/mtlshost")
    result = subprocess.run([str(host), *py_kv_plugin], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # Our plugin's certificate is P-256 (Go accepts any curve); the Go host's P-521 one goes
    # through the OpenSSL relay on the plugin's side.
    assert lines[0] == "tls TLS 1.3 alpn=h2 peer=P-256"
    assert lines[1:] == [
        "get hello from a Go host",
        "",
        "Written from plugin-python-goplugin",
        "ok",
    ]
    # Go's host asked the plugin to stop through GRPCController and it did, without a kill.
    assert "plugin failed to exit gracefully" not in result.stderr
    assert "plugin process exited" in result.stderr


@pytest.mark.parametrize("host_curve", ["P-521", "P-256"])
def test_python_plugin_refuses_plaintext_and_foreign_certificates(
    py_kv_plugin: list[str], generated: Path, workdir: Path, host_curve: str
) -> None:
    """P-521: a Go host's certificate, served through the relay; P-256: grpcio's own TLS."""
    from gen.kv import kv_goplugin, kv_pb2

    host, intruder = generate_identity(host_curve), generate_identity(host_curve)
    with launched(py_kv_plugin, host) as plugin:
        hs = plugin.handshake
        assert hs.server_cert is not None
        with channel("unix:" + hs.address) as ch, pytest.raises(grpc.RpcError):
            kv_goplugin.KVClient(ch).get(kv_pb2.GetRequest(key="x"), timeout=3)
        with (
            relay_to(hs, intruder) as relay,
            channel(relay.target) as ch,
            pytest.raises(grpc.RpcError),
        ):
            kv_goplugin.KVClient(ch).get(kv_pb2.GetRequest(key="x"), timeout=3)
        with relay_to(hs, host) as relay, channel(relay.target) as ch:
            kv = kv_goplugin.KVClient(ch)
            kv.put(kv_pb2.PutRequest(key="k", value=b"v"), timeout=20)
            assert kv.get(kv_pb2.GetRequest(key="k"), timeout=20).value.startswith(b"v")
        plugin.proc.terminate()
        assert plugin.proc.wait(timeout=10) == 0
    if host_curve == "P-521":
        assert plugin.stderr.count("refused a TLS connection") >= 2, plugin.stderr
