"""GRPCBroker: callbacks between host and plugin (go-plugin's examples/bidirectional)."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest
from conftest import EXAMPLE_HANDSHAKE
from gobuild import go_plugin_example

import goplugin
import goplugin.aio

pytestmark = pytest.mark.interop


def counter_modules():  # type: ignore[no-untyped-def]
    from counter import counter_pb2, counter_pb2_grpc

    return counter_pb2, counter_pb2_grpc


def make_adder(pb2, grpc_pb2, calls: list[tuple[int, int]]):  # type: ignore[no-untyped-def]
    class Adder(grpc_pb2.AddHelperServicer):  # type: ignore[misc,name-defined]
        def Sum(self, request, context):  # type: ignore[no-untyped-def]
            calls.append((request.a, request.b))
            return pb2.SumResponse(r=request.a + request.b)

    return Adder()


def counter_put(
    client: goplugin.PluginClient, key: str, value: int, calls: list[tuple[int, int]]
) -> None:
    pb2, grpc_pb2 = counter_modules()
    broker = client.broker
    service_id = broker.next_id()
    server = broker.accept_and_serve(
        service_id,
        lambda s: grpc_pb2.add_AddHelperServicer_to_server(make_adder(pb2, grpc_pb2, calls), s),
    )
    try:
        grpc_pb2.CounterStub(client.grpc_channel).Put(
            pb2.CounterPutRequest(add_server=service_id, key=key, value=value)
        )
    finally:
        server.stop(None)


@pytest.mark.parametrize("plugin", ["go", "python"])
def test_python_host_serves_add_helper_to_the_plugin(
    plugin: str, kv_stubs: Path, py_counter_plugin: list[str], workdir: Path
) -> None:
    pb2, grpc_pb2 = counter_modules()
    cmd = (
        [str(go_plugin_example("bidirectional", "plugin-go-grpc"))]
        if plugin == "go"
        else py_counter_plugin
    )
    calls: list[tuple[int, int]] = []
    with goplugin.PluginClient(cmd, handshake=EXAMPLE_HANDSHAKE) as client:
        counter_put(client, "x", 5, calls)
        counter_put(client, "x", 5, calls)
        value = grpc_pb2.CounterStub(client.grpc_channel).Get(pb2.CounterGetRequest(key="x")).value
    assert value == 10
    assert calls == [(0, 5), (5, 5)]


async def test_asyncio_host_serves_add_helper(kv_stubs: Path, workdir: Path) -> None:
    pb2, grpc_pb2 = counter_modules()

    class Adder(grpc_pb2.AddHelperServicer):  # type: ignore[misc,name-defined]
        async def Sum(self, request, context):  # type: ignore[no-untyped-def]
            return pb2.SumResponse(r=request.a + request.b)

    plugin = go_plugin_example("bidirectional", "plugin-go-grpc")
    async with goplugin.aio.PluginClient([plugin], handshake=EXAMPLE_HANDSHAKE) as client:
        counter = grpc_pb2.CounterStub(client.grpc_channel)
        for _ in range(3):
            service_id = client.broker.next_id()
            server = await client.broker.accept_and_serve(
                service_id, lambda s: grpc_pb2.add_AddHelperServicer_to_server(Adder(), s)
            )
            await counter.Put(pb2.CounterPutRequest(add_server=service_id, key="y", value=7))
            await server.stop(None)
        assert (await counter.Get(pb2.CounterGetRequest(key="y"))).value == 21


def test_go_bidirectional_host_loads_the_python_plugin(
    py_counter_plugin: list[str], workdir: Path
) -> None:
    host = go_plugin_example("bidirectional", "bidirectional")
    env = {**os.environ, "COUNTER_PLUGIN": shlex.join(py_counter_plugin)}

    def run(*args: str) -> str:
        result = subprocess.run(
            [str(host), *args], env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    run("put", "x", "5")
    run("put", "x", "5")
    assert run("get", "x") == "10\n"


def test_dial_without_an_accept_times_out(go_kv_plugin: Path, workdir: Path) -> None:
    client = goplugin.PluginClient([go_kv_plugin], handshake=EXAMPLE_HANDSHAKE)
    with client, pytest.raises(goplugin.PluginError, match="timeout waiting for connection info"):
        client.broker.dial(42, timeout=0.2)
