"""Long temp paths (CI systems and test harnesses use them): whatever Go works with, we do.

A unix socket path holds at most 107 bytes (sun_path less its NUL). Go's plugins put theirs at
``$TMPDIR/plugin<up to 10 digits>``, so they work with a TMPDIR of up to 90 characters
(measured with go-plugin's own examples: 90 always, 91 only when the random name is short).
Every pairing here runs with a 90-character TMPDIR, with AutoMTLS and multiplexing, and leaves
nothing behind, neither in TMPDIR nor in the short runtime directory where sockets go when
TMPDIR leaves no room for a private directory. A path that cannot fit anywhere is a typed
error naming the path and the limit.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import EXAMPLE_HANDSHAKE, PLUGINS
from gobuild import go_plugin_example, go_program

import goplugin
import goplugin.aio

pytestmark = pytest.mark.interop

TMPDIR_LENGTH = 90
TLS = pytest.mark.parametrize("tls", [False, True], ids=["plaintext", "automtls"])
MUX = pytest.mark.parametrize("mux", [False, True], ids=["direct", "mux"])


@dataclass
class LongTemp:
    tmpdir: Path  # TMPDIR, exactly TMPDIR_LENGTH characters
    runtime: Path  # XDG_RUNTIME_DIR: short, where sockets go when TMPDIR leaves no room

    def leftovers(self) -> list[str]:
        return sorted(str(p) for d in (self.tmpdir, self.runtime) for p in d.iterdir())


def padded_dir(base: str, length: int) -> Path:
    path = base
    while len(path) < length:
        path = os.path.join(path, "x" * min(40, length - len(path) - 1))
    os.makedirs(path)
    assert len(path) == length
    return Path(path)


@pytest.fixture
def long_tmp(monkeypatch: pytest.MonkeyPatch) -> Iterator[LongTemp]:
    """TMPDIR of 90 characters for this process and every process it starts."""
    # Go programs are built first: the Go toolchain itself works in TMPDIR.
    for group, binary in [("grpc", "grpc"), ("bidirectional", "plugin-go-grpc")]:
        go_plugin_example(group, binary)
    for package in ("./testprogs/kvhost", "./cmd/kv-plugin", "./cmd/counter-host"):
        go_program(package)
    base = tempfile.mkdtemp(prefix="gpl")
    try:
        runtime = Path(base, "run")
        runtime.mkdir(mode=0o700)
        temp = LongTemp(padded_dir(os.path.join(base, "t"), TMPDIR_LENGTH), runtime)
        monkeypatch.setenv("TMPDIR", str(temp.tmpdir))
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(temp.runtime))
        yield temp
    finally:
        shutil.rmtree(base, ignore_errors=True)


def kv_round_trip(client: goplugin.PluginClient) -> bytes:
    from gen.kv import kv_goplugin, kv_pb2

    kv = kv_goplugin.KVClient(client.grpc_channel)
    kv.put(kv_pb2.PutRequest(key="long", value=b"v"), timeout=20)
    value: bytes = kv.get(kv_pb2.GetRequest(key="long"), timeout=20).value
    client.ping()
    return value


def counter_rounds(client: goplugin.PluginClient, rounds: int = 2) -> int:
    """Brokered callbacks: the plugin dials a server the host serves on a broker socket."""
    from gen.counter import counter_goplugin, counter_pb2

    class Adder(counter_goplugin.AddHelperServicer):
        def sum(self, request, context):  # type: ignore[no-untyped-def]
            return counter_pb2.SumResponse(r=request.a + request.b)

    counter = counter_goplugin.CounterClient(client.grpc_channel)
    for _ in range(rounds):
        helper = client.broker.next_id()
        server = client.broker.accept_and_serve(helper, counter_goplugin.AddHelperPlugin(Adder()))
        counter.put(counter_pb2.CounterPutRequest(add_server=helper, key="n", value=4), timeout=20)
        server.stop(None)
    return int(counter.get(counter_pb2.CounterGetRequest(key="n"), timeout=20).value)


@TLS
@MUX
def test_python_host_with_python_plugins(
    tls: bool, mux: bool, long_tmp: LongTemp, py_kv_plugin: list[str], workdir: Path
) -> None:
    options = {"handshake": EXAMPLE_HANDSHAKE, "auto_mtls": tls, "multiplex": mux}
    with goplugin.PluginClient(py_kv_plugin, **options) as client:  # type: ignore[arg-type]
        assert kv_round_trip(client) == b"v\n\nWritten from plugin-python-goplugin"
    counter = [sys.executable, str(PLUGINS.parent.parent / "examples-py" / "counter_plugin.py")]
    with goplugin.PluginClient(counter, **options) as client:  # type: ignore[arg-type]
        assert counter_rounds(client) == 8
    assert client.returncode == 0
    assert long_tmp.leftovers() == []


@TLS
@MUX
async def test_asyncio_python_host_with_the_asyncio_python_plugin(
    tls: bool, mux: bool, long_tmp: LongTemp, plugin_pythonpath: None, workdir: Path
) -> None:
    from gen.kv import kv_goplugin, kv_pb2

    plugin = [sys.executable, str(PLUGINS / "fault_plugin.py")]
    async with goplugin.aio.PluginClient(
        plugin,
        handshake=EXAMPLE_HANDSHAKE,
        auto_mtls=tls,
        multiplex=mux,
        env={"GOPLUGIN_FAULT_FLAVOUR": "aio"},
    ) as client:
        kv = kv_goplugin.AsyncKVClient(client.grpc_channel)
        await kv.put(kv_pb2.PutRequest(key="a", value=b"1"), timeout=20)
        assert (await kv.get(kv_pb2.GetRequest(key="a"), timeout=20)).value == b"1"
    assert client.returncode == 0
    assert long_tmp.leftovers() == []


@TLS
@MUX
def test_python_host_with_go_plugins(
    tls: bool, mux: bool, long_tmp: LongTemp, generated: Path, workdir: Path
) -> None:
    options = {"handshake": EXAMPLE_HANDSHAKE, "auto_mtls": tls, "multiplex": mux}
    for plugin in (go_plugin_example("grpc", "plugin-go-grpc"), go_program("./cmd/kv-plugin")):
        with goplugin.PluginClient([plugin], **options) as client:  # type: ignore[arg-type]
            assert kv_round_trip(client).startswith(b"v")
        assert client.returncode == 0
    bidirectional = go_plugin_example("bidirectional", "plugin-go-grpc")
    with goplugin.PluginClient([bidirectional], **options) as client:  # type: ignore[arg-type]
        assert counter_rounds(client) == 8
    assert long_tmp.leftovers() == []


@pytest.mark.parametrize(
    "flags", [[], ["-automtls"], ["-mux"], ["-automtls", "-mux"]], ids=lambda f: "".join(f)
)
@pytest.mark.parametrize("flavour", ["sync", "aio"])
def test_go_host_with_python_plugins(
    flags: list[str], flavour: str, long_tmp: LongTemp, plugin_pythonpath: None, workdir: Path
) -> None:
    plugin = [sys.executable, str(PLUGINS / "fault_plugin.py")]
    commands = ["put", "k", "v", "get", "k", "ping"]
    result = subprocess.run(
        [str(go_program("./testprogs/kvhost")), *flags, "-plugin", shlex.join(plugin), *commands],
        env={**os.environ, "GOPLUGIN_FAULT_FLAVOUR": flavour},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "value=v\nping=ok\n" in result.stdout
    assert "[ERROR]" not in result.stderr, result.stderr
    assert long_tmp.leftovers() == []


@pytest.mark.parametrize("flags", [[], ["-mux", "-automtls"]], ids=["plain", "mux+automtls"])
def test_go_hosts_with_brokered_python_plugins(
    flags: list[str],
    long_tmp: LongTemp,
    py_counter_plugin: list[str],
    py_kv_plugin: list[str],
    workdir: Path,
) -> None:
    """go-plugin's own examples/grpc host, and brokered callbacks from our counter host."""
    grpc_host = go_plugin_example("grpc", "grpc")
    env = {**os.environ, "KV_PROTO": "grpc", "KV_PLUGIN": shlex.join(py_kv_plugin)}
    for args in (["put", "hello", "world"], ["get", "hello"]):
        result = subprocess.run(
            [str(grpc_host), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "world\n\nWritten from plugin-python-goplugin\n"
    host = str(go_program("./cmd/counter-host"))
    commands = ["put", "a", "2", "put", "a", "3", "get", "a"]
    counter = subprocess.run(
        [host, *flags, "-plugin", shlex.join(py_counter_plugin), *commands],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert counter.returncode == 0, counter.stdout + counter.stderr
    assert counter.stdout == "a=5\n"
    assert long_tmp.leftovers() == []


@TLS
def test_a_socket_dir_too_long_for_any_socket_is_a_typed_error(
    tls: bool, long_tmp: LongTemp, py_kv_plugin: list[str]
) -> None:
    """The host decides PLUGIN_UNIX_SOCKET_DIR: when not even a short name fits in it, the
    plugin says so in an hclog ERROR line (the Go host shows it) and leaves nothing behind."""
    from goplugin._mtls import generate_identity

    too_long = padded_dir(str(long_tmp.runtime / "d"), 100)
    env = {
        **os.environ,
        "BASIC_PLUGIN": "hello",
        "PLUGIN_PROTOCOL_VERSIONS": "1",
        "PLUGIN_UNIX_SOCKET_DIR": str(too_long),
    }
    if tls:
        env["PLUGIN_CLIENT_CERT"] = generate_identity().cert_pem.decode()
    result = subprocess.run(py_kv_plugin, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert result.stdout == ""
    last = json.loads(result.stderr.splitlines()[-1])  # after the traceback
    assert last["@level"] == "error", result.stderr
    assert str(too_long) in last["@message"]
    assert "107" in last["@message"]
    assert "SocketPathTooLongError" in last["error"]
    shutil.rmtree(long_tmp.runtime / "d")
    assert long_tmp.leftovers() == []


def test_python_host_without_room_for_sockets_gets_a_typed_error(
    long_tmp: LongTemp, py_kv_plugin: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No candidate directory leaves room for a socket name: start() says so, spawns nothing."""
    from goplugin import _sockets
    from goplugin.errors import SocketPathTooLongError

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(long_tmp.tmpdir))
    monkeypatch.setattr(_sockets, "LAST_RESORT_TMPDIR", str(long_tmp.tmpdir))
    client = goplugin.PluginClient(py_kv_plugin, handshake=EXAMPLE_HANDSHAKE)
    with pytest.raises(SocketPathTooLongError) as info:
        client.start()
    assert info.value.limit == 107
    assert info.value.path.startswith(str(long_tmp.tmpdir))
    assert str(long_tmp.tmpdir) in str(info.value) and "107" in str(info.value)
    assert client.pid is None
    client.kill()
    assert long_tmp.leftovers() == []
