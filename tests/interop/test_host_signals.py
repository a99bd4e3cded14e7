"""The host's SIGTERM hook never gets in the way of an application's own SIGTERM handling.

goplugin kills its plugins on SIGTERM only where SIGTERM would have killed the process anyway
(the disposition is SIG_DFL at the first launch); an application's handler, installed before
or after that, runs with its plugins still alive and decides itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest
from conftest import REPO

pytestmark = pytest.mark.interop

SYNC_HOST = textwrap.dedent(
    """
    import signal, sys, time
    import goplugin
    handshake = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")
    client = goplugin.PluginClient([sys.argv[1]], handshake=handshake)

    def on_term(signum, frame):
        alive = not client.exited
        if alive:
            client.ping()
        print("app handler: plugin", "alive" if alive else "dead", flush=True)
        client.kill()
        sys.exit(0)

    if sys.argv[2] == "before":
        signal.signal(signal.SIGTERM, on_term)
    client.start()
    if sys.argv[2] == "after":
        signal.signal(signal.SIGTERM, on_term)
    print("ready", client.pid, flush=True)
    time.sleep(60)
    """
)

ASYNC_HOST = textwrap.dedent(
    """
    import asyncio, signal, sys
    import goplugin, goplugin.aio
    handshake = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")

    async def main():
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        client = goplugin.aio.PluginClient([sys.argv[1]], handshake=handshake)
        await client.start()
        print("ready", client.pid, flush=True)
        await stop.wait()
        alive = not client.exited
        if alive:
            await client.ping()
        print("app handler: plugin", "alive" if alive else "dead", flush=True)
        await client.kill()

    asyncio.run(main())
    """
)


class Host(subprocess.Popen[str]):
    plugin_pid: int


def start_host(script: str, plugin: Path, when: str) -> Host:
    env = {**os.environ, "PYTHONPATH": str(REPO / "sdk-python" / "src")}
    host = Host(
        [sys.executable, "-c", script, str(plugin), when],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert host.stdout is not None
    ready, pid = host.stdout.readline().split()
    assert ready == "ready"
    host.plugin_pid = int(pid)
    return host


@pytest.mark.parametrize(
    ("script", "when"),
    [(SYNC_HOST, "before"), (SYNC_HOST, "after"), (ASYNC_HOST, "asyncio")],
    ids=["handler-before-first-launch", "handler-after-first-launch", "asyncio-handler"],
)
def test_an_applications_sigterm_handler_finds_its_plugins_alive(
    go_kv_plugin: Path, workdir: Path, script: str, when: str
) -> None:
    host = start_host(script, go_kv_plugin, when)
    try:
        host.send_signal(signal.SIGTERM)
        out, err = host.communicate(timeout=30)
    finally:
        host.kill()
        host.wait()
    assert out == "app handler: plugin alive\n", out + err
    assert host.returncode == 0, err


def test_without_a_handler_sigterm_still_takes_the_plugins_down(
    go_kv_plugin: Path, workdir: Path
) -> None:
    host = start_host(SYNC_HOST, go_kv_plugin, "none")
    host.send_signal(signal.SIGTERM)
    assert host.wait(30) == -signal.SIGTERM
    # The hook killed and reaped the plugin before dying of SIGTERM itself.
    assert not psutil.pid_exists(host.plugin_pid)
