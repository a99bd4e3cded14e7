"""Python host, net/rpc plugins: go-plugin's own Go examples (unmodified) and a Python plugin."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from conftest import EXAMPLE_HANDSHAKE, REPO

import goplugin
import goplugin.aio
from goplugin import Protocol, netrpc
from goplugin.errors import RPCServerError, RPCTimeoutError
from goplugin.netrpc import gob

pytestmark = pytest.mark.interop

SUM_ARGS = gob.Struct("SumArgs", [("Helper", gob.UINT32), ("A", gob.INT64), ("B", gob.INT64)])


def greeter_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "goplugin.plugin.plugin"]


def test_go_greeter(go_greeter_plugin: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="goplugin.plugin")
    with goplugin.PluginClient([go_greeter_plugin], handshake=EXAMPLE_HANDSHAKE) as client:
        assert client.protocol is Protocol.NETRPC
        greeter = client.dispense("greeter")
        assert greeter.call("Plugin.Greet", None, gob.STRING) == "Hello!"
        assert greeter.call("Plugin.Greet") == "Hello!"  # nil interface{} args, generic reply
        client.ping()
        with pytest.raises(RPCServerError, match=r"^unknown plugin type: nope$"):
            client.dispense("nope")
        # Not with a nil interface{} argument: Go's gob cannot skip one (Decode(nil) waits for a
        # type definition that never comes), so Go's server would stall on the stream.
        with pytest.raises(RPCServerError, match=r"rpc: can't find method Plugin\.Nope"):
            greeter.call("Plugin.Nope", "x")
    # Control.Quit: the Go plugin exits by itself, no SIGKILL needed.
    assert client.returncode == 0
    records = greeter_records(caplog)
    message = [r for r in records if r.getMessage().startswith("message from plugin")]
    assert message and message[0].levelno == logging.DEBUG
    assert vars(message[0])["plugin_fields"] == {"foo": "bar"}
    assert any(r.getMessage() == "message from GreeterHello.Greet" for r in records)
    assert "plugin failed to exit gracefully" not in caplog.text


async def test_go_greeter_asyncio(
    go_greeter_plugin: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="goplugin.plugin")
    async with goplugin.aio.PluginClient(
        [go_greeter_plugin], handshake=EXAMPLE_HANDSHAKE
    ) as client:
        greeter = await client.dispense("greeter")
        assert isinstance(greeter, netrpc.AsyncClient)
        replies = await asyncio.gather(
            *(greeter.call("Plugin.Greet", None, gob.STRING) for _ in range(50))
        )
        await client.ping()
    assert set(replies) == {"Hello!"}
    assert client.returncode == 0
    assert any(r.getMessage().startswith("message from plugin") for r in greeter_records(caplog))


def test_go_netrpc_kv_put_then_get(go_netrpc_kv_plugin: Path, workdir: Path) -> None:
    with goplugin.PluginClient([go_netrpc_kv_plugin], handshake=EXAMPLE_HANDSHAKE) as client:
        kv = client.dispense("kv")
        # map[string]interface{}{"key": string, "value": []byte}, as shared.RPCClient sends it.
        assert kv.call("Plugin.Put", {"key": "hello", "value": b"world"}) is None
        value = kv.call("Plugin.Get", "hello", gob.BYTES)
        with pytest.raises(RPCServerError, match="open kv_nope: no such file or directory"):
            kv.call("Plugin.Get", "nope", gob.BYTES)
    assert value == b"world\n\nWritten from plugin-go-netrpc"


def test_typed_greeter_example(go_greeter_plugin: Path, plugin_pythonpath: None) -> None:
    """examples-py/greeter_host.py against the Go greeter and the Python one."""
    host = [sys.executable, str(REPO / "examples-py" / "greeter_host.py")]
    python_greeter = f"{sys.executable} {REPO / 'examples-py' / 'greeter_plugin.py'}"
    for plugin, reply in [
        (str(go_greeter_plugin), "Hello!"),
        (python_greeter, "Hello from Python!"),
    ]:
        result = subprocess.run([*host, plugin], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout == reply + "\n"


def test_sigkill_between_calls_is_plugin_exited(go_greeter_plugin: Path) -> None:
    client = goplugin.PluginClient([go_greeter_plugin], handshake=EXAMPLE_HANDSHAKE)
    client.start()
    greeter = client.dispense("greeter")
    assert greeter.call("Plugin.Greet") == "Hello!"
    assert client.pid is not None
    os.kill(client.pid, signal.SIGKILL)
    with pytest.raises(goplugin.PluginExitedError) as info:
        greeter.call("Plugin.Greet")
    assert info.value.returncode == -signal.SIGKILL
    assert "plugin address" in "\n".join(info.value.stderr_tail)
    with pytest.raises(goplugin.PluginExitedError):
        client.ping()
    client.kill()  # still fine after the crash
    assert client.returncode == -signal.SIGKILL


def test_plugin_crashing_mid_call(py_netrpc_plugin: list[str], workdir: Path) -> None:
    with goplugin.PluginClient(
        py_netrpc_plugin, handshake=EXAMPLE_HANDSHAKE, env={"NETRPC_TEST_CRASH_ON_GET": "1"}
    ) as client:
        kv = client.dispense("kv")
        kv.call("Plugin.Put", {"key": "k", "value": b"v"})
        with pytest.raises(goplugin.PluginExitedError) as info:
            kv.call("Plugin.Get", "k", gob.BYTES)
    assert info.value.returncode == 3
    assert "about to crash" in info.value.stderr_tail


def test_auto_mtls_with_the_go_greeter(go_greeter_plugin: Path) -> None:
    with goplugin.PluginClient(
        [go_greeter_plugin], handshake=EXAMPLE_HANDSHAKE, auto_mtls=True
    ) as client:
        assert client.handshake_line is not None and client.handshake_line.server_cert is not None
        assert client.dispense("greeter").call("Plugin.Greet") == "Hello!"
    assert client.returncode == 0


NETRPC_THREADS = ("goplugin-netrpc", "goplugin-muxbroker", "yamux-", "goplugin-tls")


def leftover_threads(before: set[threading.Thread]) -> list[str]:
    deadline = time.monotonic() + 5
    while True:
        names = [
            t.name for t in set(threading.enumerate()) - before if t.name.startswith(NETRPC_THREADS)
        ]
        if not names or time.monotonic() > deadline:
            return names
        time.sleep(0.02)


def test_twenty_launch_kill_cycles_leave_nothing_behind(
    go_greeter_plugin: Path, private_tmp: Path
) -> None:
    me = psutil.Process()
    threads_before = set(threading.enumerate())
    sockets = []
    for i in range(20):
        client = goplugin.PluginClient(
            [go_greeter_plugin], handshake=EXAMPLE_HANDSHAKE, auto_mtls=i % 4 == 0
        )
        client.start()
        assert client.handshake_line is not None
        sockets.append(client.handshake_line.address)
        if i % 2:
            assert client.dispense("greeter").call("Plugin.Greet") == "Hello!"
        client.kill()
        assert client.returncode == 0
    assert me.children(recursive=True) == []
    assert [s for s in sockets if os.path.exists(s)] == []
    assert all(s.startswith(str(private_tmp)) for s in sockets), sockets
    assert list(private_tmp.iterdir()) == []
    assert leftover_threads(threads_before) == []


class Adder:
    @netrpc.method("Add", args_type=gob.Slice(gob.INT64), reply_type=gob.INT64)
    def add(self, args: list[int]) -> int:
        return sum(args)


class WithBroker(netrpc.Plugin[Any]):
    """Hands out the connection's MuxBroker with the client, as Go's Client(broker, c) gets."""

    def netrpc_client(self, broker: Any, client: Any) -> tuple[netrpc.MuxBroker, Any]:
        return broker, client


@pytest.mark.parametrize(
    "variant", ["sync", "asyncio-plugin", "tls", "tcp+tls+asyncio-plugin"], ids=str
)
def test_python_plugin(py_netrpc_plugin: list[str], workdir: Path, variant: str) -> None:
    out, err = io.BytesIO(), io.BytesIO()
    env = {"NETRPC_TEST_AIO": "1" if "asyncio" in variant else ""}
    env["NETRPC_TEST_TCP"] = "1" if "tcp" in variant else ""
    with goplugin.PluginClient(
        py_netrpc_plugin,
        handshake=EXAMPLE_HANDSHAKE,
        plugins={"calc": WithBroker()},
        env=env,
        auto_mtls="tls" in variant,
        sync_stdout=out,
        sync_stderr=err,
    ) as client:
        assert client.handshake_line is not None
        assert client.handshake_line.network == ("tcp" if "tcp" in variant else "unix")
        assert client.dispense("greeter").call("Plugin.Greet", None, gob.STRING) == "Hello!"
        kv = client.dispense("kv")
        kv.call("Plugin.Put", {"key": "k", "value": b"v"})
        assert kv.call("Plugin.Get", "k", gob.BYTES).startswith(b"v\n\nWritten from plugin-python")
        with pytest.raises(RPCServerError, match="No such file or directory"):
            kv.call("Plugin.Get", "nope")
        # A callback: the plugin dials what the host's broker serves.
        broker, calc = client.dispense("calc")
        helper = broker.next_id()
        broker.accept_and_serve(helper, Adder())
        args = {"Helper": helper, "A": 40, "B": 2}
        assert calc.call("Plugin.Sum", args, gob.INT64, args_type=SUM_ARGS) == 42
        client.ping()
        deadline = time.monotonic() + 10
        while not (out.getvalue() and err.getvalue()) and time.monotonic() < deadline:
            time.sleep(0.01)
    assert client.returncode == 0  # Control.Quit
    assert (out.getvalue(), err.getvalue()) == (b"stdout: greet\n", b"stderr: greet\n")


def test_a_call_timeout_abandons_the_call(py_netrpc_plugin: list[str]) -> None:
    with goplugin.PluginClient(py_netrpc_plugin, handshake=EXAMPLE_HANDSHAKE) as client:
        greeter = client.dispense("greeter")
        with pytest.raises(RPCTimeoutError, match=r"Plugin\.Sleep"):
            greeter.call("Plugin.Sleep", 30.0, gob.BOOL, timeout=0.2)
        assert greeter.call("Plugin.Greet") == "Hello!"  # the stream carries on
    # The sleeping call did not keep the plugin alive after Control.Quit.
    assert client.returncode == 0


async def test_asyncio_call_cancellation_and_timeout(py_netrpc_plugin: list[str]) -> None:
    async with goplugin.aio.PluginClient(py_netrpc_plugin, handshake=EXAMPLE_HANDSHAKE) as client:
        greeter = await client.dispense("greeter")
        with pytest.raises(RPCTimeoutError):
            await greeter.call("Plugin.Sleep", 30.0, gob.BOOL, timeout=0.2)
        task = asyncio.ensure_future(greeter.call("Plugin.Sleep", 30.0, gob.BOOL))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await greeter.call("Plugin.Greet") == "Hello!"
    assert client.returncode == 0


def test_reattach_to_go_and_debug_mode_python_plugins(
    go_greeter_plugin: Path, py_netrpc_plugin: list[str]
) -> None:
    with goplugin.PluginClient([go_greeter_plugin], handshake=EXAMPLE_HANDSHAKE) as first:
        config = first.reattach_config
        assert config is not None and config.protocol is Protocol.NETRPC
        with goplugin.PluginClient(handshake=EXAMPLE_HANDSHAKE, reattach=config) as second:
            assert second.dispense("greeter").call("Plugin.Greet") == "Hello!"
        assert not first.exited  # leaving did not stop what the second host did not start
        assert first.dispense("greeter").call("Plugin.Greet") == "Hello!"
    env = {k: v for k, v in os.environ.items() if k != "BASIC_PLUGIN"}  # run by hand
    debug = subprocess.Popen(
        py_netrpc_plugin,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**env, "GOPLUGIN_DEBUG": "1"},
    )
    try:
        assert debug.stdout is not None
        lines = [debug.stdout.readline() for _ in range(3)]
        config = goplugin.ReattachConfig.from_json(lines[2])
        assert (config.protocol, config.pid, config.test) == (Protocol.NETRPC, debug.pid, True)
        for _ in range(2):  # hosts come and go; the plugin ignores their Control.Quit
            with goplugin.PluginClient(handshake=EXAMPLE_HANDSHAKE, reattach=config) as host:
                assert host.dispense("greeter").call("Plugin.Greet") == "Hello!"
            host.kill(stop_reattached=True)
            assert debug.poll() is None
        debug.send_signal(signal.SIGINT)  # the developer's Ctrl-C
        assert debug.wait(10) == 0
    finally:
        if debug.poll() is None:
            debug.kill()
        debug.wait()


HOST_SCRIPT = """
import sys, time
import goplugin
handshake = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")
client = goplugin.PluginClient(sys.argv[1:], handshake=handshake)
client.start()
print(client.pid, flush=True)
time.sleep(60)
"""


def test_python_plugin_exits_when_its_host_is_sigkilled(
    py_netrpc_plugin: list[str], workdir: Path
) -> None:
    host = subprocess.Popen(
        [sys.executable, "-c", HOST_SCRIPT, *py_netrpc_plugin],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.environ["PYTHONPATH"]},
    )
    assert host.stdout is not None
    plugin = psutil.Process(int(host.stdout.readline()))
    host.send_signal(signal.SIGKILL)
    host.wait()
    _, alive = psutil.wait_procs([plugin], timeout=5)
    assert alive == []


def test_inspect_cli_on_netrpc_plugins(go_greeter_plugin: Path) -> None:
    cli = [sys.executable, "-m", "goplugin", "inspect", str(go_greeter_plugin)]
    result = subprocess.run(
        [*cli, "--cookie", "BASIC_PLUGIN=hello"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO / "sdk-python" / "src")},
    )
    assert result.returncode == 0, result.stderr
    import json

    info: dict[str, Any] = json.loads(result.stdout)
    assert (info["protocol"], info["services"], info["tls"]) == ("netrpc", None, False)
    assert not os.path.exists(info["address"])
