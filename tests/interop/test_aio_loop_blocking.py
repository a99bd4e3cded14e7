"""goplugin.aio never blocks its event loop: launching, connecting, dispensing, killing.

Blocking work (hashing a binary, generating a key, forking, connecting sockets, joining
threads, waiting for a process) runs off the loop. The check is deterministic: the blocking
primitives are wrapped to record being called on the loop's thread. A ticker task measures
the longest stall as well, asserted only against a bound a blocked loop would break.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLE_HANDSHAKE

import goplugin
import goplugin.aio
from goplugin import SecureConfig

pytestmark = pytest.mark.interop


class LoopWatch:
    """Records blocking calls made on the loop thread, and the loop's longest stall."""

    def __init__(self) -> None:
        self.loop_thread: threading.Thread | None = None
        self.offences: list[str] = []
        self.worst_stall = 0.0

    def on_loop(self) -> bool:
        return threading.current_thread() is self.loop_thread

    def spy(
        self, name: str, fn: Callable[..., Any], when: Callable[..., bool] | None = None
    ) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            caller = sys._getframe(1).f_code.co_filename
            # Only goplugin's own calls: a finalizer of another test's leftovers (grpc's
            # __del__) may run on any thread that happens to trigger a garbage collection.
            if (
                self.on_loop()
                and f"{os.sep}goplugin{os.sep}" in caller
                and (when is None or when(*args, **kwargs))
            ):
                self.offences.append(f"{name} ({Path(caller).name}:{sys._getframe(1).f_lineno})")
            return fn(*args, **kwargs)

        return wrapper

    async def ticker(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            self.worst_stall = max(self.worst_stall, now - last - 0.001)
            last = now


@pytest.fixture
def loop_watch(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopWatch]:
    import goplugin._host.checksum
    import goplugin._transport.mtls

    watch = LoopWatch()
    spy = watch.spy
    monkeypatch.setattr(
        goplugin._host.checksum, "_hash_file", spy("hash", goplugin._host.checksum._hash_file)
    )
    monkeypatch.setattr(
        goplugin._transport.mtls,
        "generate_identity",
        spy("keygen", goplugin._transport.mtls.generate_identity),
    )
    monkeypatch.setattr(subprocess.Popen, "__init__", spy("spawn", subprocess.Popen.__init__))
    monkeypatch.setattr(subprocess.Popen, "wait", spy("waitpid", subprocess.Popen.wait))
    monkeypatch.setattr(
        socket.socket,
        "connect",
        spy("connect", socket.socket.connect, lambda sock, *a: sock.gettimeout() != 0.0),
    )
    monkeypatch.setattr(
        threading.Thread,
        "join",
        spy("join", threading.Thread.join, lambda thread, *a, **k: thread.is_alive()),
    )
    monkeypatch.setattr(time, "sleep", spy("sleep", time.sleep))
    monkeypatch.setattr(
        concurrent.futures.Future,
        "result",
        spy("future.result", concurrent.futures.Future.result, lambda f, *a, **k: not f.done()),
    )
    yield watch


def kv_plugins() -> dict[str, Any]:
    from gen.kv import kv_goplugin

    return {"kv": kv_goplugin.KVPlugin()}


async def exercise(
    watch: LoopWatch,
    make: Callable[[], goplugin.aio.PluginClient],
    busy_key: str | None = None,
) -> None:
    """start, dispense, ping, kill (with a call in flight on ``busy_key``) under the watch."""
    watch.loop_thread = threading.current_thread()
    ticker = asyncio.create_task(watch.ticker())
    try:
        client = make()
        await client.start()
        await client.dispense("kv")
        await client.ping()
        if busy_key is not None:
            from gen.kv import kv_goplugin, kv_pb2

            kv = kv_goplugin.AsyncKVClient(client.grpc_channel)
            call = asyncio.ensure_future(kv.get(kv_pb2.GetRequest(key=busy_key)))
            await asyncio.sleep(0.2)
        await client.kill()
        if busy_key is not None:
            # How the call ends (PluginExitedError, a cancellation) is another test's concern.
            await asyncio.gather(call, return_exceptions=True)
    finally:
        ticker.cancel()
        watch.loop_thread = None


@pytest.mark.parametrize("case", ["go-checksum", "go-netrpc", "go-multiplex", "python-mtls"])
async def test_the_loop_never_blocks(
    case: str,
    loop_watch: LoopWatch,
    go_kv_plugin: Path,
    go_netrpc_kv_plugin: Path,
    py_kv_plugin: list[str],
    workdir: Path,
) -> None:
    checksum = SecureConfig.of_file(go_kv_plugin)
    kv = kv_plugins()

    def make() -> goplugin.aio.PluginClient:
        if case == "go-checksum":
            return goplugin.aio.PluginClient(
                [go_kv_plugin], handshake=EXAMPLE_HANDSHAKE, plugins=kv, checksum=checksum
            )
        if case == "go-netrpc":
            return goplugin.aio.PluginClient([go_netrpc_kv_plugin], handshake=EXAMPLE_HANDSHAKE)
        if case == "go-multiplex":
            return goplugin.aio.PluginClient(
                [go_kv_plugin], handshake=EXAMPLE_HANDSHAKE, plugins=kv, multiplex=True
            )
        return goplugin.aio.PluginClient(
            py_kv_plugin, handshake=EXAMPLE_HANDSHAKE, plugins=kv, auto_mtls=True
        )

    await exercise(loop_watch, make)
    print(f"{case}: longest loop stall {loop_watch.worst_stall * 1000:.1f} ms")
    assert loop_watch.offences == []
    assert loop_watch.worst_stall < 1.0  # only a blocked loop, not a loaded machine


async def test_reattach_and_a_forced_kill_never_block(
    loop_watch: LoopWatch, go_kv_plugin: Path, workdir: Path
) -> None:
    first = goplugin.PluginClient([go_kv_plugin], handshake=EXAMPLE_HANDSHAKE)
    first.start()
    try:
        config = first.reattach_config

        def reattach() -> goplugin.aio.PluginClient:
            return goplugin.aio.PluginClient(
                handshake=EXAMPLE_HANDSHAKE, plugins=kv_plugins(), reattach=config
            )

        await exercise(loop_watch, reattach)
    finally:
        first.kill()
    assert loop_watch.offences == []


async def test_a_kill_that_has_to_sigkill_never_blocks(
    loop_watch: LoopWatch, workdir: Path, plugin_pythonpath: None
) -> None:
    from conftest import PLUGINS

    def stubborn() -> goplugin.aio.PluginClient:
        # A call sleeping through the server's stop grace outlasts kill_timeout: SIGKILL.
        return goplugin.aio.PluginClient(
            [sys.executable, str(PLUGINS / "fault_plugin.py")],
            handshake=EXAMPLE_HANDSHAKE,
            plugins=kv_plugins(),
            kill_timeout=0.2,
        )

    await exercise(loop_watch, stubborn, busy_key="fault:sleep:5")
    assert loop_watch.offences == []
