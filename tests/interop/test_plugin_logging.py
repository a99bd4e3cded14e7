"""What a Python plugin's logging sends its host: start-up failures as hclog ERROR lines, the
level chosen by default (INFO) or by the host's user (GOPLUGIN_LOG_LEVEL), no per-call chatter
of grpc's own loggers, and no ERROR line on a normal shutdown."""

from __future__ import annotations

import io
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import EXAMPLE_HANDSHAKE, PLUGINS
from gobuild import go_program

import goplugin
from goplugin.errors import PluginExitedError

pytestmark = pytest.mark.interop


def fault_plugin() -> list[str]:
    return [sys.executable, str(PLUGINS / "fault_plugin.py")]


def run_kvhost(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(go_program("./testprogs/kvhost")), "-plugin", shlex.join(fault_plugin()), *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_go_host_stopping_an_asyncio_plugin_sees_no_error(
    plugin_pythonpath: None, workdir: Path
) -> None:
    """A normal shutdown (GRPCController.Shutdown from client.Kill) ends the broker stream;
    that is no error. (It raced: about 2 runs in 3 logged "broker receive loop failed".)"""
    for _ in range(4):
        result = run_kvhost("put", "a", "b", "get", "a", env={"GOPLUGIN_FAULT_FLAVOUR": "aio"})
        assert result.returncode == 0, result.stdout + result.stderr
        assert "[ERROR]" not in result.stderr, result.stderr
        assert "plugin failed to exit gracefully" not in result.stderr


@pytest.mark.parametrize("flavour", ["sync", "aio"])
def test_a_start_up_failure_reaches_a_go_host_as_an_error_line(
    flavour: str, plugin_pythonpath: None, workdir: Path
) -> None:
    """Any exception in serve() before the handshake (here: no room for a socket name in the
    host's PLUGIN_UNIX_SOCKET_DIR) is an hclog ERROR line naming the cause, not a traceback the
    host logs at DEBUG."""
    result = run_kvhost(
        "ping", env={"GOPLUGIN_FAULT_FLAVOUR": flavour, "GOPLUGIN_FAULT": "socket-dir-too-long"}
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "[ERROR] kvhost.sh:" in line]
    assert errors, result.stderr
    assert "plugin failed to start" in errors[0]
    assert "d" * 100 in errors[0] and "107-byte" in errors[0]


def test_a_start_up_failure_is_in_a_python_hosts_stderr_tail(plugin_pythonpath: None) -> None:
    client = goplugin.PluginClient(
        fault_plugin(),
        handshake=EXAMPLE_HANDSHAKE,
        env={"GOPLUGIN_FAULT": "socket-dir-too-long"},
    )
    with pytest.raises(PluginExitedError) as info:
        client.start()
    tail = "\n".join(info.value.stderr_tail)
    assert "plugin failed to start" in tail
    assert "d" * 100 in tail and "107-byte" in tail


@pytest.mark.parametrize("level", [None, "debug"])
def test_the_plugin_sends_info_by_default_and_what_the_hosts_user_asks(
    level: str | None, plugin_pythonpath: None, workdir: Path
) -> None:
    """A Go host filters plugin lines by its own level, which the plugin cannot know (kvhost
    logs everything): INFO and up by default, more when GOPLUGIN_LOG_LEVEL asks."""
    env = {} if level is None else {"GOPLUGIN_LOG_LEVEL": level}
    result = run_kvhost(
        "get", "fault:log:debug:a-debug-line", "get", "fault:log:info:an-info-line", env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[INFO]  kvhost.sh: an-info-line" in result.stderr
    assert ("[DEBUG] kvhost.sh: a-debug-line" in result.stderr) is (level == "debug")


@pytest.mark.parametrize("level", [None, "debug"])
def test_calls_to_an_asyncio_plugin_log_nothing_per_call(
    level: str | None, plugin_pythonpath: None, workdir: Path
) -> None:
    """grpc.aio logged "[_cygrpc] Loaded running loop" once per call, at DEBUG, and the plugin
    sent it to the host: even a plugin asked for DEBUG keeps grpc's own loggers at INFO."""
    from gen.kv import kv_goplugin, kv_pb2

    env = {"GOPLUGIN_FAULT_FLAVOUR": "aio"}
    if level is not None:
        env["GOPLUGIN_LOG_LEVEL"] = level
    stderr = io.StringIO()
    with goplugin.PluginClient(
        fault_plugin(), handshake=EXAMPLE_HANDSHAKE, env=env, stderr=stderr
    ) as client:
        kv = kv_goplugin.KVClient(client.grpc_channel)
        kv.get(kv_pb2.GetRequest(key="fault:log:warning:begin"), timeout=20)
        kv.put(kv_pb2.PutRequest(key="a", value=b"1"), timeout=20)
        for _ in range(30):
            kv.get(kv_pb2.GetRequest(key="a"), timeout=20)
        kv.get(kv_pb2.GetRequest(key="fault:log:warning:end"), timeout=20)
        deadline = time.monotonic() + 10
        while '"end"' not in stderr.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)
    lines = stderr.getvalue().splitlines()
    begin = next(i for i, line in enumerate(lines) if '"@message": "begin"' in line)
    end = next(i for i, line in enumerate(lines) if '"@message": "end"' in line)
    assert lines[begin + 1 : end] == []
