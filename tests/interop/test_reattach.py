"""Reattach (to plugins another host started, or to a Python plugin in debug mode) and
SecureConfig checksums."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import psutil
import pytest
from conftest import EXAMPLE_HANDSHAKE

import goplugin
from goplugin import Protocol, ReattachConfig, SecureConfig
from goplugin.errors import ChecksumError, ProcessNotFoundError

pytestmark = pytest.mark.interop


def kv_roundtrip(channel: grpc.Channel, key: str, value: bytes) -> bytes:
    from gen.kv import kv_goplugin, kv_pb2

    kv = kv_goplugin.KVClient(channel)
    kv.put(kv_pb2.PutRequest(key=key, value=value))
    return bytes(kv.get(kv_pb2.GetRequest(key=key)).value)


def test_second_host_reattaches_to_a_plugin_the_first_started(
    go_kv_plugin: Path, generated: Path, workdir: Path
) -> None:
    with goplugin.PluginClient([go_kv_plugin], handshake=EXAMPLE_HANDSHAKE) as first:
        config = first.reattach_config
        assert config is not None and config.pid == first.pid
        assert ReattachConfig.from_json(config.to_json()) == config
        second = goplugin.PluginClient(handshake=EXAMPLE_HANDSHAKE, reattach=config)
        with second:
            assert second.pid == first.pid
            assert second.negotiated_version == 1
            assert kv_roundtrip(second.grpc_channel, "r", b"1").startswith(b"1\n\n")
            second.ping()
        # The second host did not start the plugin, so leaving did not stop it.
        assert psutil.pid_exists(first.pid) and not first.exited
        assert kv_roundtrip(first.grpc_channel, "r", b"2").startswith(b"2\n\n")
    assert first.exited


def test_reattached_host_stops_the_plugin_only_when_asked(
    go_kv_plugin: Path, workdir: Path
) -> None:
    first = goplugin.PluginClient([go_kv_plugin], handshake=EXAMPLE_HANDSHAKE)
    first.start()
    second = goplugin.PluginClient(handshake=EXAMPLE_HANDSHAKE, reattach=first.reattach_config)
    second.start()
    second.kill(stop_reattached=True)
    assert first._process is not None
    assert first._process.exited.result(5) == 0  # Shutdown reached it: a clean exit
    first.kill()


def test_reattach_to_nothing(tmp_path: Path) -> None:
    gone = ReattachConfig(Protocol.GRPC, 1, "unix", str(tmp_path / "nope"), os.getpid())
    with pytest.raises(ProcessNotFoundError, match="Reattachment process not found"):
        goplugin.PluginClient(handshake=EXAMPLE_HANDSHAKE, reattach=gone).start()


@pytest.fixture
def debug_plugin(
    py_kv_plugin: list[str], workdir: Path
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    env = {k: v for k, v in os.environ.items() if k != "BASIC_PLUGIN"}  # run by hand
    proc = subprocess.Popen(
        py_kv_plugin,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**env, "GOPLUGIN_DEBUG": "1"},
    )
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(3)]
    assert "debug mode" in lines[0]
    yield proc, lines[2].strip()
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_python_host_reattaches_to_a_python_plugin_in_debug_mode(
    debug_plugin: tuple[subprocess.Popen[str], str], generated: Path
) -> None:
    proc, reattach_json = debug_plugin
    config = ReattachConfig.from_json(reattach_json)
    assert (config.protocol, config.pid, config.test) == (Protocol.GRPC, proc.pid, True)
    for round_ in range(2):  # hosts come and go; the plugin stays
        with goplugin.PluginClient(handshake=EXAMPLE_HANDSHAKE, reattach=config) as host:
            assert kv_roundtrip(host.grpc_channel, "d", b"%d" % round_).startswith(b"%d" % round_)
        host.kill(stop_reattached=True)  # test mode: still not stopped
        assert proc.poll() is None
    proc.send_signal(signal.SIGINT)  # the developer's Ctrl-C
    assert proc.wait(10) == 0


def test_go_host_reattaches_to_a_python_plugin_in_debug_mode(
    debug_plugin: tuple[subprocess.Popen[str], str], kvhost: Path
) -> None:
    proc, reattach_json = debug_plugin
    for value in ("first", "second"):
        result = subprocess.run(
            [str(kvhost), "-reattach", reattach_json, "put", "g", value, "get", "g"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"value={value}\n\nWritten from plugin-python-goplugin" in result.stdout
        assert proc.poll() is None
    assert json.loads(reattach_json)["Test"] is True


def test_checksum_accepts_the_expected_binary(go_kv_plugin: Path, workdir: Path) -> None:
    checksum = SecureConfig.of_file(go_kv_plugin)
    with goplugin.PluginClient([go_kv_plugin], handshake=EXAMPLE_HANDSHAKE, checksum=checksum) as c:
        c.ping()


def test_checksum_mismatch_refuses_to_exec(go_kv_plugin: Path, workdir: Path) -> None:
    client = goplugin.PluginClient(
        [go_kv_plugin], handshake=EXAMPLE_HANDSHAKE, checksum=SecureConfig(sha256="00" * 32)
    )
    with pytest.raises(ChecksumError, match="checksums did not match"):
        client.start()
    assert client.pid is None
    assert psutil.Process().children() == []


def test_checksum_and_reattach_exclude_each_other() -> None:
    config = ReattachConfig(Protocol.GRPC, 1, "unix", "/x", 1)
    with pytest.raises(ValueError, match="checksum and reattach"):
        goplugin.PluginClient(
            handshake=EXAMPLE_HANDSHAKE, reattach=config, checksum=SecureConfig(sha256=b"x")
        )
    with pytest.raises(ValueError):
        SecureConfig(sha256="zz")
