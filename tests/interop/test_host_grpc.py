"""Python host, unmodified Go gRPC plugin (go-plugin's examples/grpc plugin-go-grpc)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

import psutil
import pytest
from conftest import EXAMPLE_HANDSHAKE

import goplugin
import goplugin.aio
from goplugin import Protocol

pytestmark = pytest.mark.interop


def test_put_then_get(go_kv_plugin: Path, generated: Path, workdir: Path) -> None:
    from gen.kv import kv_goplugin, kv_pb2

    with goplugin.PluginClient([go_kv_plugin], handshake=EXAMPLE_HANDSHAKE) as client:
        assert client.protocol is Protocol.GRPC
        assert client.negotiated_version == 1
        assert client.pid is not None
        kv = kv_goplugin.KVClient(client.grpc_channel)
        kv.put(kv_pb2.PutRequest(key="hello", value=b"world"))
        value = kv.get(kv_pb2.GetRequest(key="hello")).value
        client.ping()
    assert value == b"world\n\nWritten from plugin-go-grpc"
    assert client.exited
    # Shutdown through GRPCController: the Go plugin exits by itself, no SIGKILL needed.
    assert client.returncode == 0


def test_dispense_builds_the_client_of_the_plugin_set(
    go_kv_plugin: Path, generated: Path, workdir: Path
) -> None:
    from gen.kv import kv_goplugin, kv_pb2

    plugins = {"kv": kv_goplugin.KVPlugin()}
    with goplugin.PluginClient(
        [go_kv_plugin], handshake=EXAMPLE_HANDSHAKE, plugins=plugins
    ) as client:
        kv: kv_goplugin.KVClient = client.dispense("kv")
        kv.put(kv_pb2.PutRequest(key="k", value=b"v"))
        assert kv.get(kv_pb2.GetRequest(key="k")).value.startswith(b"v\n\n")
        # Go's text first, then what the host knows: a typo is obvious.
        with pytest.raises(goplugin.PluginError, match=r"^unknown plugin type: nope \(.*'kv'"):
            client.dispense("nope")


def test_dispense_without_a_plugin_set_says_how_to_give_one(
    go_kv_plugin: Path, generated: Path, workdir: Path
) -> None:
    with (
        goplugin.PluginClient([go_kv_plugin], handshake=EXAMPLE_HANDSHAKE) as client,
        pytest.raises(goplugin.PluginError, match=r"^unknown plugin type: kv \(.*plugins="),
    ):
        client.dispense("kv")


async def test_asyncio_flavour(go_kv_plugin: Path, generated: Path, workdir: Path) -> None:
    from gen.kv import kv_goplugin, kv_pb2

    async with goplugin.aio.PluginClient([go_kv_plugin], handshake=EXAMPLE_HANDSHAKE) as client:
        kv = kv_goplugin.AsyncKVClient(client.grpc_channel)
        await kv.put(kv_pb2.PutRequest(key="a", value=b"1"))
        results = await asyncio.gather(*(kv.get(kv_pb2.GetRequest(key="a")) for _ in range(20)))
        await client.ping()
    assert {r.value for r in results} == {b"1\n\nWritten from plugin-go-grpc"}
    assert client.exited


def test_plugin_log_lines_reach_logging(
    go_kv_plugin: Path, workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="goplugin.plugin")
    with goplugin.PluginClient([go_kv_plugin], handshake=EXAMPLE_HANDSHAKE) as client:
        socket = client.handshake_line.address if client.handshake_line else ""
    records = [r for r in caplog.records if r.name == "goplugin.plugin.plugin-go-grpc"]
    address = [r for r in records if r.getMessage().startswith("plugin address")]
    assert address, [r.getMessage() for r in records]
    assert address[0].levelno == logging.DEBUG
    assert vars(address[0])["plugin_fields"] == {"address": socket, "network": "unix"}


def test_sigkill_between_calls_raises_plugin_exited_then_a_new_client_works(
    go_kv_plugin: Path, generated: Path, workdir: Path
) -> None:
    from gen.kv import kv_goplugin, kv_pb2

    client = goplugin.PluginClient([go_kv_plugin], handshake=EXAMPLE_HANDSHAKE)
    client.start()
    kv = kv_goplugin.KVClient(client.grpc_channel)
    kv.put(kv_pb2.PutRequest(key="x", value=b"1"))
    assert client.pid is not None
    os.kill(client.pid, signal.SIGKILL)
    with pytest.raises(goplugin.PluginExitedError) as info:
        kv.get(kv_pb2.GetRequest(key="x"))
    assert info.value.returncode == -signal.SIGKILL
    assert "killed by SIGKILL" in str(info.value)
    assert "plugin address" in "\n".join(info.value.stderr_tail)
    client.kill()  # still fine after the crash
    with goplugin.PluginClient([go_kv_plugin], handshake=EXAMPLE_HANDSHAKE) as again:
        kv = kv_goplugin.KVClient(again.grpc_channel)
        assert kv.get(kv_pb2.GetRequest(key="x")).value.startswith(b"1\n\n")


def test_fifty_launch_kill_cycles_leave_nothing_behind(
    go_kv_plugin: Path, workdir: Path, private_tmp: Path
) -> None:
    me = psutil.Process()
    sockets = []
    for _ in range(50):
        client = goplugin.PluginClient([go_kv_plugin], handshake=EXAMPLE_HANDSHAKE)
        client.start()
        assert client.handshake_line is not None
        sockets.append(client.handshake_line.address)
        client.kill()
    assert me.children(recursive=True) == []
    assert [s for s in sockets if os.path.exists(s)] == []
    assert all(s.startswith(str(private_tmp)) for s in sockets), sockets
    assert list(private_tmp.iterdir()) == []


def test_killing_before_start_and_twice_is_harmless(go_kv_plugin: Path, workdir: Path) -> None:
    client = goplugin.PluginClient([go_kv_plugin], handshake=EXAMPLE_HANDSHAKE)
    client.kill()
    assert client.pid is None
    with pytest.raises(goplugin.PluginError, match="killed"):
        client.start()
    client = goplugin.PluginClient([go_kv_plugin], handshake=EXAMPLE_HANDSHAKE)
    client.start()
    client.start()  # idempotent
    client.kill()
    client.kill()
    assert client.exited


def test_wrong_cookie_surfaces_the_plugins_message(go_kv_plugin: Path, workdir: Path) -> None:
    wrong = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "goodbye")
    with pytest.raises(goplugin.PluginExitedError) as info:
        goplugin.PluginClient([go_kv_plugin], handshake=wrong).start()
    assert info.value.returncode == 1
    assert "This binary is a plugin" in str(info.value)


def test_incompatible_app_version(go_kv_plugin: Path, workdir: Path) -> None:
    host = goplugin.HandshakeConfig(2, "BASIC_PLUGIN", "hello")
    client = goplugin.PluginClient([go_kv_plugin], handshake=host)
    with pytest.raises(goplugin.IncompatibleVersionError) as info:
        client.start()
    assert (info.value.plugin_version, info.value.host_versions) == (1, (2,))
    assert client.exited


def test_versioned_plugin_sets_pick_the_highest_common_version(
    py_kv_plugin: list[str], workdir: Path
) -> None:
    from gen.kv import kv_goplugin

    sets = {v: {"kv": kv_goplugin.KVPlugin()} for v in (2, 3)}
    client = goplugin.PluginClient(
        py_kv_plugin, handshake=EXAMPLE_HANDSHAKE, versioned_plugins=sets,
        env={"KV_TEST_VERSIONS": "1,2"},
    )  # fmt: skip
    with client:
        assert client.negotiated_version == 2
        client.dispense("kv")
    sets = {4: {"kv": kv_goplugin.KVPlugin()}}
    client = goplugin.PluginClient(
        py_kv_plugin, handshake=EXAMPLE_HANDSHAKE, versioned_plugins=sets,
        env={"KV_TEST_VERSIONS": "1,2"},
    )  # fmt: skip
    with pytest.raises(goplugin.IncompatibleVersionError) as info:
        client.start()
    assert (info.value.plugin_version, info.value.host_versions) == (1, (4,))
    # The plugin logged both lists before the host refused it.
    assert "the host offers [4], this plugin offers [1, 2]" in str(info.value)
