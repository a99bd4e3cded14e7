"""What a plugin connection costs in threads, per flavour and protocol (docs/concepts.md).

Each row of BUDGET is a documented number, checked exactly: a connection that starts one
more thread than the table says (or one fewer, leaving the table wrong) fails here, and so does
a thread that outlives kill(). Python threads are counted by name, and the process's native
threads (``/proc/self/task``: grpc's C-core threads) must not grow with connections at all;
warm-up connections first start what the process shares (the watcher, the output dispatcher,
grpc's core threads). The asyncio loop's default executor is the process's, bounded and sized
by concurrency, so it is not counted.
Real plugins: go-plugin's own grpc and basic (net/rpc) examples.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest
from conftest import EXAMPLE_HANDSHAKE
from gen.kv.kv_goplugin import KVPlugin

import goplugin
import goplugin.aio

pytestmark = pytest.mark.interop

CONNECTIONS = 3

#: Python threads one connection adds (grpc's C-core threads are the process's, shared).
BUDGET = {
    # grpc's channel spin thread, the broker's request-iterator thread (grpc's design for a sync
    # stream-stream call), our broker reader and our GRPCStdio reader.
    ("sync", "grpc"): 4,
    # Everything on the event loop.
    ("aio", "grpc"): 0,
    # yamux reader and keepalive/writer, a net/rpc reader per client (control, the dispensed
    # plugin), a reader per stdio stream (stdout, stderr).
    ("sync", "netrpc"): 6,
    # The same session and readers as sync: net/rpc's IO is thread-based in both flavours.
    ("aio", "netrpc"): 6,
}


def _counts() -> tuple[int, int]:
    """(Python threads but the asyncio loop's default executor, native threads not Python's):
    the executor is the process's, bounded, and grows with concurrency, not connections."""
    python = threading.enumerate()
    native = len(os.listdir("/proc/self/task")) - len(python)
    return sum(not t.name.startswith("asyncio_") for t in python), native


def _settled(expected: tuple[int, int], timeout: float = 5.0) -> tuple[int, int]:
    """Thread counts once they stop moving toward ``expected`` (threads end asynchronously)."""
    deadline = time.monotonic() + timeout
    counts = _counts()
    while counts != expected and time.monotonic() < deadline:
        time.sleep(0.02)
        counts = _counts()
    return counts


class _Spec(NamedTuple):
    cmd: list[Path]
    plugins: dict[str, KVPlugin] | None
    name: str


def _plugin(protocol: str, go_kv_plugin: Path, go_greeter_plugin: Path) -> _Spec:
    if protocol == "grpc":
        return _Spec([go_kv_plugin], {"kv": KVPlugin()}, "kv")
    return _Spec([go_greeter_plugin], None, "greeter")


def _measure(connect: Callable[[int], Callable[[], None]], per_connection: int) -> None:
    # A connection started and killed, then one open throughout, start what every later one
    # shares (the output dispatcher starts with the first log line, grpc's core threads come
    # and go with the process's first and last channel).
    connect(1)()
    disconnect_first = connect(1)
    try:
        before = _settled(_counts(), timeout=0.5)
        disconnect = connect(CONNECTIONS)
        want = per_connection * CONNECTIONS
        during = _settled((before[0] + want, before[1]))
        disconnect()
        after = _settled(before)
    finally:
        disconnect_first()
    assert (during[0] - before[0], during[1] - before[1]) == (want, 0), (before, during)
    assert after == before, (before, after)  # nothing outlives kill()


@pytest.mark.parametrize("protocol", ["grpc", "netrpc"])
def test_sync_connection(protocol: str, go_kv_plugin: Path, go_greeter_plugin: Path) -> None:
    spec = _plugin(protocol, go_kv_plugin, go_greeter_plugin)

    def connect(n: int) -> Callable[[], None]:
        clients = []
        for _ in range(n):
            client = goplugin.PluginClient(
                spec.cmd,
                handshake=EXAMPLE_HANDSHAKE,
                plugins=spec.plugins,
            )
            client.start()
            client.dispense(spec.name)
            clients.append(client)

        def disconnect() -> None:
            for client in clients:
                client.kill()

        return disconnect

    _measure(connect, BUDGET["sync", protocol])


@pytest.mark.parametrize("protocol", ["grpc", "netrpc"])
def test_asyncio_connection(protocol: str, go_kv_plugin: Path, go_greeter_plugin: Path) -> None:
    spec = _plugin(protocol, go_kv_plugin, go_greeter_plugin)
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, name="test-loop", daemon=True)

    def connect(n: int) -> Callable[[], None]:
        async def start() -> list[goplugin.aio.PluginClient]:
            clients = []
            for _ in range(n):
                client = goplugin.aio.PluginClient(
                    spec.cmd,
                    handshake=EXAMPLE_HANDSHAKE,
                    plugins=spec.plugins,
                )
                await client.start()
                await client.dispense(spec.name)
                clients.append(client)
            return clients

        clients = asyncio.run_coroutine_threadsafe(start(), loop).result(60)

        def disconnect() -> None:
            async def kill() -> None:
                for client in clients:
                    await client.kill()

            asyncio.run_coroutine_threadsafe(kill(), loop).result(60)

        return disconnect

    runner.start()
    try:
        _measure(connect, BUDGET["aio", protocol])
    finally:
        loop.call_soon_threadsafe(loop.stop)
        runner.join(10)
        loop.close()
