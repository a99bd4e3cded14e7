"""Python plugins served to unmodified Go hosts (go-plugin's examples/grpc host, kvhost)."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.interop


def run_go_host(
    host: Path,
    plugin_cmd: list[str],
    *args: str,
    env: dict[str, str] | None = None,
    host_args: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(host), *host_args, "-plugin", shlex.join(plugin_cmd), *args]
        if host.name == "testprogs_kvhost"
        else [str(host), *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_go_plugins_own_grpc_example_host_loads_the_python_plugin(
    py_kv_plugin: list[str], workdir: Path
) -> None:
    from gobuild import go_plugin_example

    host = go_plugin_example("grpc", "grpc")
    env = {"KV_PROTO": "grpc", "KV_PLUGIN": shlex.join(py_kv_plugin)}
    put = run_go_host(host, py_kv_plugin, "put", "hello", "world", env=env)
    assert put.returncode == 0, put.stdout + put.stderr
    get = run_go_host(host, py_kv_plugin, "get", "hello", env=env)
    assert get.returncode == 0, get.stdout + get.stderr
    assert get.stdout == "world\n\nWritten from plugin-python-goplugin\n"
    # The plugin's Python logging shows up in the Go host's log at the right levels.
    # (Go logs the fields in map order, which varies.)
    assert re.search(r"\[INFO\]  plugin\.sh: put: .*key=hello", put.stderr), put.stderr
    assert re.search(r"\[WARN\]  plugin\.sh: get: .*key=hello", get.stderr), get.stderr
    # Shutdown went through GRPCController: no forced kill.
    assert "plugin failed to exit gracefully" not in put.stderr + get.stderr


def test_ping_stdio_and_levels_with_kvhost(
    py_kv_plugin: list[str], kvhost: Path, workdir: Path
) -> None:
    result = run_go_host(kvhost, py_kv_plugin, "put", "a", "b", "get", "a", "ping")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "negotiated=1" in result.stdout
    assert "value=b\n\nWritten from plugin-python-goplugin" in result.stdout
    assert "ping=ok" in result.stdout
    assert "kvhost.stdio: received data: channel=STDOUT len=14" in result.stderr


def test_run_by_hand_prints_the_friendly_message(py_kv_plugin: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k != "BASIC_PLUGIN"}
    result = subprocess.run(py_kv_plugin, capture_output=True, text=True, env=env, timeout=30)
    assert result.returncode == 1
    # go-plugin's exact text first (users and tools know it), then what a Python user can do.
    go_text, hint = result.stderr.split("load any plugins automatically\n")
    assert go_text == (
        "This binary is a plugin. These are not meant to be executed directly.\n"
        "Please execute the program that consumes these plugins, which will\n"
    )
    assert "BASIC_PLUGIN" in hint  # which cookie is missing: a mismatched HandshakeConfig
    assert "GOPLUGIN_DEBUG=1" in hint  # how to run it by hand after all
    assert "hello" not in hint  # the cookie's value is the host's to send, not ours to print
    assert result.stdout == ""


def test_version_negotiation_with_a_go_host(
    py_kv_plugin: list[str], kvhost: Path, workdir: Path
) -> None:
    agreed = run_go_host(
        kvhost,
        py_kv_plugin,
        "ping",
        host_args=("-versions", "1,2"),
        env={"KV_TEST_VERSIONS": "2,3"},
    )
    assert agreed.returncode == 0, agreed.stderr
    assert "negotiated=2" in agreed.stdout
    refused = run_go_host(
        kvhost, py_kv_plugin, "ping", host_args=("-versions", "1"), env={"KV_TEST_VERSIONS": "3"}
    )
    assert refused.returncode == 1
    assert "incompatible API version with plugin. Plugin version: 3, Client versions: [1]" in (
        refused.stdout
    )
    assert (
        "[ERROR] kvhost.sh: no protocol version in common with the host: the host offers [1],"
        " this plugin offers [3]" in refused.stderr
    )


def test_plugin_exits_when_its_host_is_sigkilled(
    py_kv_plugin: list[str], kvhost: Path, workdir: Path
) -> None:
    host = subprocess.Popen(
        [str(kvhost), "-hold", "60s", "-plugin", shlex.join(py_kv_plugin), "ping"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert host.stdout is not None
    line = host.stdout.readline()
    assert line.startswith("negotiated=1"), line
    # The host runs the plugin through "sh -c": find the Python process itself.
    python = [
        p
        for p in psutil.Process(host.pid).children(recursive=True)
        if p.name().startswith("python")
    ]
    assert len(python) == 1
    sockets = [str(c.laddr) for c in python[0].net_connections("unix") if isinstance(c.laddr, str)]
    host.send_signal(signal.SIGKILL)
    host.wait()
    _, alive = psutil.wait_procs(python, timeout=2)
    assert alive == []
    assert [s for s in sockets if s and os.path.exists(s)] == []


def test_sigterm_stops_the_plugin_cleanly(py_kv_plugin: list[str], tmp_path: Path) -> None:
    env = {**os.environ, "BASIC_PLUGIN": "hello", "PLUGIN_PROTOCOL_VERSIONS": "1"}
    proc = subprocess.Popen(
        py_kv_plugin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    fields = line.strip().split("|")
    assert fields[:3] == ["1", "1", "unix"] and fields[4:] == ["grpc", ""], line
    assert oct(os.stat(os.path.dirname(fields[3])).st_mode & 0o777) == "0o700"
    proc.send_signal(signal.SIGINT)  # ignored, like Go plugins
    time.sleep(0.2)
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    assert not os.path.exists(fields[3])


def test_tcp_listener_in_the_port_range(py_kv_plugin: list[str]) -> None:
    env = {
        **os.environ,
        "BASIC_PLUGIN": "hello",
        "PLUGIN_PROTOCOL_VERSIONS": "1",
        "PLUGIN_MIN_PORT": "23000",
        "PLUGIN_MAX_PORT": "23100",
        "KV_TEST_TCP": "1",
    }
    proc = subprocess.Popen(
        py_kv_plugin, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    assert proc.stdout is not None
    fields = proc.stdout.readline().strip().split("|")
    proc.send_signal(signal.SIGTERM)
    proc.wait(10)
    assert fields[2] == "tcp"
    host, port = fields[3].rsplit(":", 1)
    assert host == "127.0.0.1" and 23000 <= int(port) <= 23100
