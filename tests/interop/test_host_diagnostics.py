"""What a host says when a plugin goes wrong: short, specific, and in the plugin's own words."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import EXAMPLE_HANDSHAKE, PLUGINS
from gobuild import go_program

import goplugin
from goplugin.errors import HandshakeError, MagicCookieError, PluginExitedError

pytestmark = pytest.mark.interop


@pytest.fixture
def fault_plugin(plugin_pythonpath: None) -> list[str]:
    return [sys.executable, str(PLUGINS / "fault_plugin.py")]


@pytest.fixture(scope="module")
def go_fault_plugin() -> list[str]:
    return [str(go_program("./testprogs/faultplugin"))]


@pytest.mark.parametrize("language", ["go", "python"])
def test_a_huge_garbage_line_gives_a_short_error(
    language: str, go_fault_plugin: list[str], fault_plugin: list[str], workdir: Path
) -> None:
    cmd = go_fault_plugin if language == "go" else fault_plugin
    client = goplugin.PluginClient(
        cmd, handshake=EXAMPLE_HANDSHAKE, env={"GOPLUGIN_FAULT": "huge-handshake-line"}
    )
    with pytest.raises(HandshakeError) as info:
        client.start()
    message = str(info.value)
    assert len(message) < 2000, f"{len(message)} characters"
    assert "Unrecognized remote plugin message: 'xxxxxxxx" in message
    assert "65536 characters" in message  # how long the line was (it was cut there)
    assert client.exited


def test_a_go_plugin_refusing_the_magic_cookie_is_named(
    go_fault_plugin: list[str], workdir: Path
) -> None:
    wrong = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "goodbye")
    with pytest.raises(MagicCookieError) as info:
        goplugin.PluginClient(go_fault_plugin, handshake=wrong).start()
    assert isinstance(info.value, PluginExitedError) and isinstance(info.value, HandshakeError)
    assert info.value.returncode == 1
    message = str(info.value)
    assert message.startswith("magic cookie mismatch: "), message
    assert "host sent BASIC_PLUGIN=goodbye" in message
    assert "This binary is a plugin" in message  # the plugin's own words, in the tail


def test_a_python_plugin_refusing_the_magic_cookie_says_what_it_expects(
    fault_plugin: list[str],
) -> None:
    wrong = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "goodbye")
    with pytest.raises(MagicCookieError) as info:
        goplugin.PluginClient(fault_plugin, handshake=wrong).start()
    message = str(info.value)
    assert "the plugin expects BASIC_PLUGIN=hello" in message, message
    assert "host sent BASIC_PLUGIN=goodbye" in message
    assert info.value.expected == ("BASIC_PLUGIN", "hello")
    assert info.value.sent == ("BASIC_PLUGIN", "goodbye")


def test_a_go_plugins_hclog_lines_read_as_text_in_the_tail(
    go_fault_plugin: list[str], workdir: Path
) -> None:
    from gen.kv import kv_goplugin, kv_pb2

    with goplugin.PluginClient(go_fault_plugin, handshake=EXAMPLE_HANDSHAKE) as client:
        kv = kv_goplugin.KVClient(client.grpc_channel)
        with pytest.raises(PluginExitedError) as info:
            kv.get(kv_pb2.GetRequest(key="fault:exit"))
    tail = info.value.stderr_tail
    assert not [line for line in tail if line.startswith("{")], tail
    assert any(line.startswith("DEBUG plugin address: ") for line in tail), tail


def test_the_tail_stays_bounded_under_a_flood(go_fault_plugin: list[str], workdir: Path) -> None:
    from gen.kv import kv_goplugin, kv_pb2

    env = {"GOPLUGIN_FAULT": "stderr-flood,stderr-long-lines"}
    with goplugin.PluginClient(go_fault_plugin, handshake=EXAMPLE_HANDSHAKE, env=env) as client:
        kv = kv_goplugin.KVClient(client.grpc_channel)
        with pytest.raises(PluginExitedError) as info:
            kv.get(kv_pb2.GetRequest(key="fault:exit"))
    tail = info.value.stderr_tail
    assert 0 < len(tail) <= 40
    assert sum(len(line) + 1 for line in tail) <= 8192
    assert len(str(info.value)) < 9000


def test_a_print_before_serve_gets_a_python_hint(fault_plugin: list[str]) -> None:
    client = goplugin.PluginClient(
        fault_plugin, handshake=EXAMPLE_HANDSHAKE, env={"GOPLUGIN_FAULT": "print-before-serve"}
    )
    with pytest.raises(HandshakeError) as info:
        client.start()
    message = str(info.value)
    assert "'loading configuration...'" in message
    assert "print()" in message and "serve()" in message, message
    assert "compiled for this architecture" not in message
