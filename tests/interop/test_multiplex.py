"""gRPC broker multiplexing (PLUGIN_MULTIPLEX_GRPC): every connection rides one yamux session.

Both directions, with and without AutoMTLS, brokered callbacks included: a Python host with
go-plugin's own unmodified plugins, a Go host (testprogs/counterhost, go-plugin's
GRPCBrokerMultiplex) with the Python plugin, and Python on both ends.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest
from conftest import EXAMPLE_HANDSHAKE
from gobuild import go_plugin_example, go_program

import goplugin
from goplugin.errors import HandshakeError

pytestmark = pytest.mark.interop

TLS = pytest.mark.parametrize("tls", [False, True], ids=["plaintext", "automtls"])


def counter_rounds(client: goplugin.PluginClient, rounds: int = 2) -> int:
    from gen.counter import counter_goplugin, counter_pb2

    class Adder(counter_goplugin.AddHelperServicer):
        def sum(self, request, context):  # type: ignore[no-untyped-def]
            return counter_pb2.SumResponse(r=request.a + request.b)

    counter = counter_goplugin.CounterClient(client.grpc_channel)
    for _ in range(rounds):
        helper = client.broker.next_id()
        server = client.broker.accept_and_serve(helper, counter_goplugin.AddHelperPlugin(Adder()))
        counter.put(counter_pb2.CounterPutRequest(add_server=helper, key="m", value=3), timeout=20)
        server.stop(None)
    return int(counter.get(counter_pb2.CounterGetRequest(key="m"), timeout=20).value)


@TLS
def test_python_host_multiplexes_to_go_plugins(
    tls: bool, go_kv_plugin: Path, generated: Path, workdir: Path
) -> None:
    from gen.kv import kv_goplugin, kv_pb2

    options = {"handshake": EXAMPLE_HANDSHAKE, "multiplex": True, "auto_mtls": tls}
    with goplugin.PluginClient([go_kv_plugin], **options) as client:  # type: ignore[arg-type]
        assert client.handshake_line is not None and client.handshake_line.multiplex is True
        kv = kv_goplugin.KVClient(client.grpc_channel)
        kv.put(kv_pb2.PutRequest(key="m", value=b"x"), timeout=20)
        assert kv.get(kv_pb2.GetRequest(key="m"), timeout=20).value.startswith(b"x\n\n")
        client.ping()
    assert client.returncode == 0
    bidirectional = go_plugin_example("bidirectional", "plugin-go-grpc")
    with goplugin.PluginClient([bidirectional], **options) as client:  # type: ignore[arg-type]
        assert counter_rounds(client) == 6


@TLS
def test_python_host_multiplexes_to_a_python_plugin(
    tls: bool, py_counter_plugin: list[str], workdir: Path
) -> None:
    options = {"handshake": EXAMPLE_HANDSHAKE, "multiplex": True, "auto_mtls": tls}
    with goplugin.PluginClient(py_counter_plugin, **options) as client:  # type: ignore[arg-type]
        assert client.handshake_line is not None and client.handshake_line.multiplex is True
        assert counter_rounds(client, rounds=3) == 9
    assert client.returncode == 0


@pytest.mark.parametrize("flags", [["-mux"], ["-mux", "-automtls"]], ids=["mux", "mux+automtls"])
@pytest.mark.parametrize("plugin", ["go", "python"])
def test_go_host_multiplexes(
    flags: list[str], plugin: str, py_counter_plugin: list[str], workdir: Path
) -> None:
    host = go_program("./cmd/counter-host")
    cmd = (
        [str(go_plugin_example("bidirectional", "plugin-go-grpc"))]
        if plugin == "go"
        else py_counter_plugin
    )
    result = subprocess.run(
        [
            str(host),
            *flags,
            "-plugin",
            shlex.join(cmd),
            "put",
            "a",
            "2",
            "put",
            "a",
            "3",
            "get",
            "a",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "a=5\n"


def test_a_plugin_without_multiplexing_is_refused(workdir: Path) -> None:
    old_plugin = ["sh", "-c", "echo '1|1|unix|/nowhere|grpc|'; sleep 30"]
    client = goplugin.PluginClient(old_plugin, handshake=EXAMPLE_HANDSHAKE, multiplex=True)
    with pytest.raises(HandshakeError, match="multiplexing"):
        client.start()
    assert client.exited
