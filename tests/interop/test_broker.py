"""GRPCBroker: callbacks between host and plugin (go-plugin's examples/bidirectional)."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import grpc
import pytest
from conftest import EXAMPLE_HANDSHAKE
from gen.counter import counter_goplugin, counter_pb2
from gobuild import go_plugin_example

import goplugin
import goplugin.aio

pytestmark = pytest.mark.interop


class Adder(counter_goplugin.AddHelperServicer):
    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def sum(
        self, request: counter_pb2.SumRequest, context: grpc.ServicerContext
    ) -> counter_pb2.SumResponse:
        self.calls.append((request.a, request.b))
        return counter_pb2.SumResponse(r=request.a + request.b)


def counter_put(
    counter: counter_goplugin.CounterClient, key: str, value: int, adder: Adder
) -> None:
    """The host side of examples/bidirectional's Put: serve AddHelper under a fresh id."""
    service_id = counter.broker.next_id()
    server = counter.broker.accept_and_serve(service_id, counter_goplugin.AddHelperPlugin(adder))
    try:
        request = counter_pb2.CounterPutRequest(add_server=service_id, key=key, value=value)
        counter.put(request, timeout=20)
    finally:
        server.stop(None)


@pytest.mark.parametrize("plugin", ["go", "python"])
def test_python_host_serves_add_helper_to_the_plugin(
    plugin: str, py_counter_plugin: list[str], workdir: Path
) -> None:
    cmd = (
        [str(go_plugin_example("bidirectional", "plugin-go-grpc"))]
        if plugin == "go"
        else py_counter_plugin
    )
    adder = Adder()
    plugins = {"counter": counter_goplugin.CounterPlugin()}
    with goplugin.PluginClient(cmd, handshake=EXAMPLE_HANDSHAKE, plugins=plugins) as client:
        counter: counter_goplugin.CounterClient = client.dispense("counter")
        counter_put(counter, "x", 5, adder)
        counter_put(counter, "x", 5, adder)
        value = counter.get(counter_pb2.CounterGetRequest(key="x"), timeout=20).value
    assert value == 10
    assert adder.calls == [(0, 5), (5, 5)]


async def test_asyncio_host_serves_add_helper(workdir: Path) -> None:
    class AsyncAdder(counter_goplugin.AsyncAddHelperServicer):
        async def sum(
            self,
            request: counter_pb2.SumRequest,
            context: grpc.aio.ServicerContext[counter_pb2.SumRequest, counter_pb2.SumResponse],
        ) -> counter_pb2.SumResponse:
            return counter_pb2.SumResponse(r=request.a + request.b)

    plugin = go_plugin_example("bidirectional", "plugin-go-grpc")
    plugins = {"counter": counter_goplugin.CounterPlugin()}
    async with goplugin.aio.PluginClient(
        [plugin], handshake=EXAMPLE_HANDSHAKE, plugins=plugins
    ) as client:
        counter: counter_goplugin.AsyncCounterClient = await client.dispense("counter")
        for _ in range(3):
            service_id = counter.broker.next_id()
            server = await counter.broker.accept_and_serve(
                service_id, counter_goplugin.AddHelperPlugin(AsyncAdder())
            )
            request = counter_pb2.CounterPutRequest(add_server=service_id, key="y", value=7)
            await counter.put(request, timeout=20)
            await server.stop(None)
        assert (await counter.get(counter_pb2.CounterGetRequest(key="y"))).value == 21


@pytest.mark.parametrize("plugin", ["go", "python"])
def test_go_hosts_serve_callbacks_to_plugins(
    plugin: str, py_counter_plugin: list[str], workdir: Path
) -> None:
    """go-plugin's own bidirectional host, unmodified, with our generated Go plugin and with
    the Python plugin (examples-go/cmd/counter-plugin, examples-py/counter_plugin.py)."""
    from gobuild import go_program

    host = go_plugin_example("bidirectional", "bidirectional")
    cmd = [str(go_program("./cmd/counter-plugin"))] if plugin == "go" else py_counter_plugin
    env = {**os.environ, "COUNTER_PLUGIN": shlex.join(cmd)}

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
