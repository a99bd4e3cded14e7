"""AutoMTLS through the public API: PluginClient(auto_mtls=True) and serve() with a host cert.

The relay-level pieces are tested in test_mtls_go.py and tests/unit; here the whole stack is:
a Python host with AutoMTLS against go-plugin's unmodified Go plugins (their P-521 certificates
need the OpenSSL relay) and against Python plugins (grpcio's own TLS), brokered callbacks
included, and a Go host with AutoMTLS against a Python plugin.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import grpc
import pytest
from conftest import EXAMPLE_HANDSHAKE
from gobuild import go_plugin_example

import goplugin
import goplugin.aio
from goplugin._protocol.x509 import certificate_curve
from goplugin.errors import TLSError

pytestmark = pytest.mark.interop


def kv_roundtrip(channel: grpc.Channel) -> bytes:
    from gen.kv import kv_goplugin, kv_pb2

    kv = kv_goplugin.KVClient(channel)
    kv.put(kv_pb2.PutRequest(key="tls", value=b"secret"), timeout=20)
    return bytes(kv.get(kv_pb2.GetRequest(key="tls"), timeout=20).value)


def test_python_host_with_automtls_and_go_plugin(
    go_kv_plugin: Path, generated: Path, workdir: Path
) -> None:
    client = goplugin.PluginClient([go_kv_plugin], handshake=EXAMPLE_HANDSHAKE, auto_mtls=True)
    with client:
        assert client.handshake_line is not None and client.handshake_line.server_cert is not None
        assert certificate_curve(client.handshake_line.server_cert) == "P-521"
        assert kv_roundtrip(client.grpc_channel) == b"secret\n\nWritten from plugin-go-grpc"
        client.ping()
    assert client.returncode == 0  # Shutdown reached the plugin through TLS


def test_python_host_with_automtls_and_python_plugin(
    py_kv_plugin: list[str], generated: Path, workdir: Path
) -> None:
    client = goplugin.PluginClient(py_kv_plugin, handshake=EXAMPLE_HANDSHAKE, auto_mtls=True)
    with client:
        assert client.handshake_line is not None and client.handshake_line.server_cert is not None
        assert kv_roundtrip(client.grpc_channel).startswith(b"secret")
        client.ping()
    assert client.returncode == 0


async def test_asyncio_host_with_automtls(
    go_kv_plugin: Path, generated: Path, workdir: Path
) -> None:
    from gen.kv import kv_goplugin, kv_pb2

    client = goplugin.aio.PluginClient([go_kv_plugin], handshake=EXAMPLE_HANDSHAKE, auto_mtls=True)
    async with client:
        kv = kv_goplugin.AsyncKVClient(client.grpc_channel)
        await kv.put(kv_pb2.PutRequest(key="a", value=b"1"), timeout=20)
        assert (await kv.get(kv_pb2.GetRequest(key="a"), timeout=20)).value.startswith(b"1")


@pytest.mark.parametrize("plugin", ["go", "python"])
def test_brokered_callbacks_under_automtls(
    plugin: str, generated: Path, py_counter_plugin: list[str], workdir: Path
) -> None:
    from gen.counter import counter_goplugin, counter_pb2

    class Adder(counter_goplugin.AddHelperServicer):
        def sum(self, request, context):  # type: ignore[no-untyped-def]
            return counter_pb2.SumResponse(r=request.a + request.b)

    cmd = (
        [str(go_plugin_example("bidirectional", "plugin-go-grpc"))]
        if plugin == "go"
        else py_counter_plugin
    )
    with goplugin.PluginClient(cmd, handshake=EXAMPLE_HANDSHAKE, auto_mtls=True) as client:
        counter = counter_goplugin.CounterClient(client.grpc_channel)
        for _ in range(2):
            helper = client.broker.next_id()
            server = client.broker.accept_and_serve(
                helper, counter_goplugin.AddHelperPlugin(Adder())
            )
            counter.put(counter_pb2.CounterPutRequest(add_server=helper, key="n", value=4))
            server.stop(None)
        assert counter.get(counter_pb2.CounterGetRequest(key="n")).value == 8


def test_go_host_with_automtls_and_python_plugin(
    py_kv_plugin: list[str], kvhost: Path, workdir: Path
) -> None:
    result = subprocess.run(
        [str(kvhost), "-automtls", "-plugin", " ".join(py_kv_plugin), "put", "k", "v", "get", "k"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "value=v\n" in result.stdout


def test_a_tls_plugin_needs_a_tls_host(go_kv_plugin: Path, workdir: Path) -> None:
    # A plugin that announces a certificate to a host without AutoMTLS: refuse, don't hang.
    cmd = ["env", "PLUGIN_CLIENT_CERT=" + _some_cert_pem(), str(go_kv_plugin)]
    client = goplugin.PluginClient(cmd, handshake=EXAMPLE_HANDSHAKE, auto_mtls=False)
    with pytest.raises(TLSError, match="auto_mtls=True"):
        client.start()
    assert client.exited


def _some_cert_pem() -> str:
    from goplugin._transport.mtls import generate_identity

    return generate_identity().cert_pem.decode()
