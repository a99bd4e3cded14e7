"""goplugin.testing.serve_in_process: a plugin set served by serve() in this process (test mode)
and a real host attached to it, both protocols, both flavours, and nothing of the process
touched (no subprocess, stdout, signals, environment or logging set-up)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import grpc
import psutil
import pytest
from conftest import EXAMPLE_HANDSHAKE
from counter_host import Adder
from counter_plugin import Counter
from gen.counter import counter_goplugin, counter_pb2
from gen.kv import kv_goplugin, kv_pb2
from greeter_plugin import GreeterHello

import goplugin
import goplugin.testing
import goplugin.testing.aio
from goplugin import netrpc
from goplugin.errors import PluginSetError, RPCServerError, StartTimeoutError
from goplugin.netrpc import gob

pytestmark = pytest.mark.interop

# Not the examples' cookie: nothing in this process's environment may be needed.
HANDSHAKE = goplugin.HandshakeConfig(1, "GOPLUGIN_TESTING_COOKIE", "never-set")
log = logging.getLogger("test.plugin")


class Store(kv_goplugin.KVServicer):
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def put(self, request: kv_pb2.PutRequest, context: grpc.ServicerContext) -> kv_pb2.Empty:
        print(f"plugin stdout: put {request.key}")  # test mode leaves stdout to pytest
        log.info("stored %s", request.key)
        self.data[request.key] = request.value
        return kv_pb2.Empty()

    def get(self, request: kv_pb2.GetRequest, context: grpc.ServicerContext) -> kv_pb2.GetResponse:
        if request.key not in self.data:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no key {request.key!r}")
        return kv_pb2.GetResponse(value=self.data[request.key])


class AsyncStore(kv_goplugin.AsyncKVServicer):
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    async def put(self, request: kv_pb2.PutRequest, context: Any) -> kv_pb2.Empty:
        self.data[request.key] = request.value
        return kv_pb2.Empty()

    async def get(self, request: kv_pb2.GetRequest, context: Any) -> kv_pb2.GetResponse:
        if request.key not in self.data:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no key {request.key!r}")
        return kv_pb2.GetResponse(value=self.data[request.key])


def test_grpc_pair_gives_the_client_a_real_host_gets(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    children = psutil.Process().children(recursive=True)
    sigint = signal.getsignal(signal.SIGINT)
    caplog.set_level(logging.INFO, "test.plugin")
    store = Store()
    with goplugin.testing.serve_in_process(
        {"kv": kv_goplugin.KVPlugin(impl=store)}, handshake=HANDSHAKE
    ) as client:
        assert isinstance(client, goplugin.PluginClient)
        assert psutil.Process().children(recursive=True) == children  # no subprocess
        assert client.protocol is goplugin.Protocol.GRPC and client.negotiated_version == 1
        client.ping()
        kv = client.dispense("kv")
        assert isinstance(kv, kv_goplugin.KVClient)
        assert kv.broker is client.broker
        kv.put(kv_pb2.PutRequest(key="a", value=b"1"), timeout=5)
        assert kv.get(kv_pb2.GetRequest(key="a"), timeout=5).value == b"1"
        assert store.data == {"a": b"1"}  # the very servicer object the test made
        with pytest.raises(grpc.RpcError) as failed:
            kv.get(kv_pb2.GetRequest(key="missing"), timeout=5)
        assert failed.value.code() == grpc.StatusCode.NOT_FOUND
        assert "no key 'missing'" in (failed.value.details() or "")
        address = client.handshake_line.address if client.handshake_line else ""
        assert os.path.exists(address)
    assert not os.path.exists(address) and not os.path.exists(os.path.dirname(address))
    assert signal.getsignal(signal.SIGINT) == sigint
    assert "plugin stdout: put a" in capsys.readouterr().out
    assert "stored a" in caplog.text  # the plugin's logging is the test's logging


async def test_grpc_pair_asyncio() -> None:
    sigint = signal.getsignal(signal.SIGINT)
    async with goplugin.testing.aio.serve_in_process(
        {"kv": kv_goplugin.KVPlugin(impl=AsyncStore())}, handshake=HANDSHAKE, dispense="kv"
    ) as kv:
        assert isinstance(kv, kv_goplugin.AsyncKVClient)
        await kv.put(kv_pb2.PutRequest(key="a", value=b"2"), timeout=5)
        assert (await kv.get(kv_pb2.GetRequest(key="a"), timeout=5)).value == b"2"
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await kv.get(kv_pb2.GetRequest(key="missing"), timeout=5)
        assert failed.value.code() == grpc.StatusCode.NOT_FOUND
    # serve() ran on this very loop, in the main thread, yet left SIGINT alone.
    assert signal.getsignal(signal.SIGINT) == sigint


def test_netrpc_pair() -> None:
    plugins: dict[str, Any] = {"greeter": netrpc.Plugin(GreeterHello())}
    with goplugin.testing.serve_in_process(plugins, handshake=HANDSHAKE) as client:
        assert client.protocol is goplugin.Protocol.NETRPC
        client.ping()
        greeter = client.dispense("greeter")
        assert isinstance(greeter, netrpc.Client)
        assert greeter.call("Plugin.Greet", None, gob.STRING, timeout=5) == "Hello from Python!"
        with pytest.raises(RPCServerError, match=r"can't find method Plugin\.Nope"):
            greeter.call("Plugin.Nope", None, timeout=5)
        with pytest.raises(RPCServerError, match="unknown plugin type: nope"):
            client.dispense("nope")


async def test_netrpc_pair_asyncio() -> None:
    plugins: dict[str, Any] = {"greeter": netrpc.Plugin(GreeterHello())}
    async with goplugin.testing.aio.serve_in_process(
        plugins, handshake=HANDSHAKE, dispense="greeter"
    ) as greeter:
        assert isinstance(greeter, netrpc.AsyncClient)
        assert await greeter.call("Plugin.Greet", None, gob.STRING, timeout=5) == (
            "Hello from Python!"
        )


def test_broker_callbacks_work_in_process(workdir: Path) -> None:
    """The bidirectional contract: the plugin dials the host's AddHelper through the broker."""
    plugins = {"counter": counter_goplugin.CounterPlugin(impl=Counter())}
    with goplugin.testing.serve_in_process(
        plugins, handshake=HANDSHAKE, dispense="counter"
    ) as counter:
        for _ in range(2):
            helper_id = counter.broker.next_id()
            server = counter.broker.accept_and_serve(
                helper_id, counter_goplugin.AddHelperPlugin(Adder())
            )
            try:
                request = counter_pb2.CounterPutRequest(add_server=helper_id, key="x", value=5)
                counter.put(request, timeout=10)
            finally:
                server.stop(None)
        assert counter.get(counter_pb2.CounterGetRequest(key="x"), timeout=5).value == 10


def test_versions_are_negotiated_as_across_processes() -> None:
    v1 = {"kv": kv_goplugin.KVPlugin(impl=Store())}
    v2: dict[str, Any] = {"greeter": netrpc.Plugin(GreeterHello())}
    with goplugin.testing.serve_in_process(
        handshake=HANDSHAKE, versioned_plugins={1: v1, 2: v2}
    ) as client:
        assert client.negotiated_version == 2 and client.protocol is goplugin.Protocol.NETRPC
    with goplugin.testing.serve_in_process(
        handshake=HANDSHAKE,
        versioned_plugins={1: v1, 2: v2},
        host_versioned_plugins={1: {"kv": kv_goplugin.KVPlugin()}},
    ) as client:
        assert client.negotiated_version == 1 and client.protocol is goplugin.Protocol.GRPC


def test_serve_failure_is_raised_where_the_pair_starts() -> None:
    pair = goplugin.testing.serve_in_process({"bad": object()}, handshake=HANDSHAKE)
    with pytest.raises(PluginSetError, match="neither a gRPC plugin"), pair:
        pytest.fail("a plugin set serve() refuses must not serve")


def serving_threads() -> list[threading.Thread]:
    """The threads that run serve() for sync in-process pairs (the backend names them)."""
    return [t for t in threading.enumerate() if "serve_in_background" in t.name]


def test_a_failing_test_body_is_not_masked_and_the_plugin_stops() -> None:
    with (
        pytest.raises(ZeroDivisionError),
        goplugin.testing.serve_in_process(
            {"kv": kv_goplugin.KVPlugin(impl=Store())}, handshake=HANDSHAKE
        ) as client,
    ):
        address = client.handshake_line.address if client.handshake_line else ""
        assert len(serving_threads()) >= 1
        1 / 0  # noqa: B018
    assert not os.path.exists(address)
    assert serving_threads() == []  # serve() returned


def test_plugin_host_stops_everything_it_started(
    go_kv_plugin: Path, py_kv_plugin: list[str], workdir: Path
) -> None:
    plugins = {"kv": kv_goplugin.KVPlugin()}
    with goplugin.testing.PluginHost() as host:
        go = host.launch(go_kv_plugin, handshake=EXAMPLE_HANDSHAKE, plugins=plugins)
        py = host.launch_python(
            py_kv_plugin[-1], handshake=EXAMPLE_HANDSHAKE, plugins=plugins, dispense="kv"
        )
        pair = host.serve_in_process(
            {"kv": kv_goplugin.KVPlugin(impl=Store())}, handshake=HANDSHAKE, dispense="kv"
        )
        py.put(kv_pb2.PutRequest(key="k", value=b"py"), timeout=10)
        assert py.get(kv_pb2.GetRequest(key="k"), timeout=10).value.startswith(b"py")
        pair.put(kv_pb2.PutRequest(key="k", value=b"in"), timeout=10)
        pids = [go.pid, *(p.pid for p in psutil.Process().children())]
        assert go.pid is not None and len(pids) >= 2
    assert go.exited
    assert not any(
        psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" for pid in pids
    )


def test_launch_python_takes_a_module_name(plugin_pythonpath: None, workdir: Path) -> None:
    """A Python plugin started by module name imports what this test imports (sys.path)."""
    sys_path_entry = str(Path(__file__).resolve().parent.parent / "plugins")
    assert goplugin.testing.python_command("kv_plugin") == [sys.executable, "-m", "kv_plugin"]
    sys.path.insert(0, sys_path_entry)
    try:
        with goplugin.testing.launch_python(
            "kv_plugin",
            handshake=EXAMPLE_HANDSHAKE,
            plugins={"kv": kv_goplugin.KVPlugin()},
            dispense="kv",
        ) as kv:
            kv.put(kv_pb2.PutRequest(key="m", value=b"v"), timeout=10)
    finally:
        sys.path.remove(sys_path_entry)


def test_start_timeout_is_typed() -> None:
    class Slow:
        def grpc_server(self, broker: Any, server: Any) -> None:
            threading.Event().wait(1.0)

        def grpc_client(self, broker: Any, channel: Any) -> Any:
            return channel

    with (
        pytest.raises(StartTimeoutError),
        goplugin.testing.serve_in_process({"slow": Slow()}, handshake=HANDSHAKE, start_timeout=0.2),
    ):
        pass


def test_nothing_of_the_process_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-process plugin sees the environment its host would give it, not os.environ."""
    monkeypatch.setenv("PLUGIN_PROTOCOL_VERSIONS", "7")  # would make a real plugin pick 7
    monkeypatch.setenv("GOPLUGIN_DEBUG", "1")  # would make a real plugin ignore Shutdown
    with goplugin.testing.serve_in_process(
        {"kv": kv_goplugin.KVPlugin(impl=Store())}, handshake=HANDSHAKE
    ) as client:
        assert client.negotiated_version == 1


def test_pairs_from_many_threads() -> None:
    """Pairs are independent: several tests (threads) may run them at once."""
    errors: list[BaseException] = []

    def one(n: int) -> None:
        try:
            with goplugin.testing.serve_in_process(
                {"kv": kv_goplugin.KVPlugin(impl=Store())}, handshake=HANDSHAKE, dispense="kv"
            ) as kv:
                for i in range(5):
                    kv.put(kv_pb2.PutRequest(key=str(i), value=str(n).encode()), timeout=10)
                    assert (
                        kv.get(kv_pb2.GetRequest(key=str(i)), timeout=10).value == str(n).encode()
                    )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)
