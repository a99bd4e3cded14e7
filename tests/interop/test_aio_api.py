"""goplugin.aio's net/rpc host API is awaited end to end: nothing blocks the loop, nothing
hands out a thread future (issue 16, "one API across flavours")."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest
from conftest import EXAMPLE_HANDSHAKE

import goplugin
import goplugin.aio
from goplugin import netrpc
from goplugin.errors import PluginError, RPCTimeoutError
from goplugin.netrpc import gob

pytestmark = pytest.mark.interop

SUM_ARGS = gob.Struct("SumArgs", [("Helper", gob.UINT32), ("A", gob.INT64), ("B", gob.INT64)])
#: Far above a loop's normal scheduling jitter on a loaded machine, far below the waits below.
STALL = 0.5


class Adder:
    @netrpc.method("Add", args_type=gob.Slice(gob.INT64), reply_type=gob.INT64)
    async def add(self, args: list[int]) -> int:
        await asyncio.sleep(0)
        return sum(args)


class WithBroker(netrpc.Plugin[Any]):
    def netrpc_client(self, broker: Any, client: Any) -> tuple[Any, Any]:
        return broker, client


@asynccontextmanager
async def longest_loop_stall() -> AsyncIterator[list[float]]:
    """Measures how long the event loop went without running a 10 ms ticker."""
    stalls = [0.0]

    async def tick() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            stalls[0] = max(stalls[0], now - last)
            last = now

    ticker = asyncio.ensure_future(tick())
    await asyncio.sleep(0.05)
    try:
        yield stalls
    finally:
        await asyncio.sleep(0.05)  # the ticker's first tick after a stall records it
        ticker.cancel()


def calc_client(plugin: list[str], *, aio_plugin: bool) -> goplugin.aio.PluginClient:
    return goplugin.aio.PluginClient(
        plugin,
        handshake=EXAMPLE_HANDSHAKE,
        plugins={"calc": WithBroker()},
        env={"NETRPC_TEST_AIO": "1" if aio_plugin else ""},
    )


@pytest.mark.timeout(60)
async def test_mux_broker_waits_do_not_block_the_loop(py_netrpc_plugin: list[str]) -> None:
    async with calc_client(py_netrpc_plugin, aio_plugin=False) as client:
        broker, _ = await client.dispense("calc")
        async with longest_loop_stall() as stall:
            with pytest.raises(RPCTimeoutError):  # nobody dials it
                await broker.accept(broker.next_id(), timeout=1.0)
        assert stall[0] < STALL, f"accept() stalled the event loop for {stall[0]:.2f} s"
        async with longest_loop_stall() as stall:
            with pytest.raises(PluginError):  # the plugin accepts nothing: reset after 5 s
                await broker.dial(4242)
        assert stall[0] < STALL, f"dial() stalled the event loop for {stall[0]:.2f} s"


@pytest.mark.parametrize("aio_plugin", [False, True], ids=["sync-plugin", "asyncio-plugin"])
@pytest.mark.timeout(60)
async def test_callbacks_through_awaited_mux_brokers(
    py_netrpc_plugin: list[str], aio_plugin: bool
) -> None:
    """The host serves Adder on its broker; the plugin's Sum dials it (with an awaited
    AsyncMuxBroker itself under goplugin.aio.serve)."""
    async with calc_client(py_netrpc_plugin, aio_plugin=aio_plugin) as client:
        broker, calc = await client.dispense("calc")
        assert isinstance(broker, netrpc.AsyncMuxBroker)
        helper = broker.next_id()
        await broker.accept_and_serve(helper, Adder())
        args = {"Helper": helper, "A": 40, "B": 2}
        assert await calc.call("Plugin.Sum", args, gob.INT64, args_type=SUM_ARGS) == 42
    assert client.returncode == 0


@pytest.mark.timeout(60)
async def test_call_future_is_an_asyncio_future_and_close_is_awaited(
    py_netrpc_plugin: list[str],
) -> None:
    async with goplugin.aio.PluginClient(py_netrpc_plugin, handshake=EXAMPLE_HANDSHAKE) as client:
        greeter = await client.dispense("greeter")
        future = greeter.call_future("Plugin.Greet", None, gob.STRING)
        assert isinstance(future, asyncio.Future)
        assert await future == "Hello!"
        slow = greeter.call_future("Plugin.Sleep", 30.0, gob.BOOL)
        await asyncio.sleep(0.05)
        slow.cancel()  # abandons the call; the stream carries on
        assert await greeter.call("Plugin.Greet") == "Hello!"
        await greeter.close()
        with pytest.raises(PluginError):
            await greeter.call("Plugin.Greet")
        async with await client.dispense("greeter") as other:
            assert await other.call("Plugin.Greet") == "Hello!"
    assert client.returncode == 0


def stop(pid: int) -> None:
    """SIGSTOP, and wait until it took effect (a request sent before it would be answered)."""
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + 10
    while psutil.Process(pid).status() != psutil.STATUS_STOPPED:
        assert time.monotonic() < deadline, "the plugin did not stop"
        time.sleep(0.01)


@pytest.mark.parametrize("protocol", ["grpc", "netrpc"])
@pytest.mark.timeout(120)
async def test_ping_of_a_stalled_plugin_is_a_typed_timeout_in_both_flavours(
    go_kv_plugin: Path, go_greeter_plugin: Path, protocol: str, workdir: Path
) -> None:
    """A plugin that stops answering (SIGSTOP) makes ping() raise RPCTimeoutError, never
    grpc's own RpcError; once it runs again, ping() works."""
    cmd = [str(go_kv_plugin if protocol == "grpc" else go_greeter_plugin)]
    with goplugin.PluginClient(cmd, handshake=EXAMPLE_HANDSHAKE) as client:
        assert client.pid is not None
        stop(client.pid)
        try:
            with pytest.raises(RPCTimeoutError):
                client.ping(timeout=0.5)
        finally:
            os.kill(client.pid, signal.SIGCONT)
        client.ping()
    async with goplugin.aio.PluginClient(cmd, handshake=EXAMPLE_HANDSHAKE) as aclient:
        assert aclient.pid is not None
        stop(aclient.pid)
        try:
            with pytest.raises(RPCTimeoutError):
                await aclient.ping(timeout=0.5)
        finally:
            os.kill(aclient.pid, signal.SIGCONT)
        await aclient.ping()
