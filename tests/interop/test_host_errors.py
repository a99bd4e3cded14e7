"""Bad plugins: each failure is a typed error with the plugin's stderr, and nothing leaks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
from conftest import EXAMPLE_HANDSHAKE, REPO

import goplugin

pytestmark = pytest.mark.interop


def sh(script: str) -> list[str]:
    return ["sh", "-c", script]


def assert_no_children() -> None:
    deadline = time.monotonic() + 2
    while psutil.Process().children(recursive=True) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert psutil.Process().children(recursive=True) == []


def test_garbage_handshake_is_a_handshake_error_with_stderr() -> None:
    client = goplugin.PluginClient(
        sh("echo 'not a plugin' >&2; echo hello world; sleep 30"), handshake=EXAMPLE_HANDSHAKE
    )
    with pytest.raises(goplugin.HandshakeError) as info:
        client.start()
    assert "Unrecognized remote plugin message" in str(info.value)
    assert info.value.line == "hello world"
    assert "not a plugin" in str(info.value)
    assert client.exited
    assert_no_children()


def test_no_handshake_within_the_start_timeout() -> None:
    client = goplugin.PluginClient(
        sh("echo starting >&2; sleep 30"), handshake=EXAMPLE_HANDSHAKE, start_timeout=0.5
    )
    started = time.monotonic()
    with pytest.raises(goplugin.StartTimeoutError) as info:
        client.start()
    assert time.monotonic() - started < 5
    assert info.value.stderr_tail == ("starting",)
    assert client.exited
    assert_no_children()


def test_plugin_that_exits_before_the_handshake() -> None:
    with pytest.raises(goplugin.PluginExitedError) as info:
        goplugin.PluginClient(
            sh("echo 'missing config' >&2; exit 7"), handshake=EXAMPLE_HANDSHAKE
        ).start()
    assert info.value.returncode == 7
    assert "plugin exited before we could connect" in str(info.value)
    assert "missing config" in str(info.value)


def test_missing_binary_is_a_launch_error(tmp_path: Path) -> None:
    with pytest.raises(goplugin.LaunchError) as info:
        goplugin.PluginClient([str(tmp_path / "nope")], handshake=EXAMPLE_HANDSHAKE).start()
    assert isinstance(info.value.__cause__, FileNotFoundError)


def test_plugin_crashing_mid_call(py_kv_plugin: list[str], generated: Path, workdir: Path) -> None:
    from gen.kv import kv_goplugin, kv_pb2

    with goplugin.PluginClient(
        py_kv_plugin, handshake=EXAMPLE_HANDSHAKE, env={"KV_TEST_CRASH_ON_GET": "1"}
    ) as client:
        kv = kv_goplugin.KVClient(client.grpc_channel)
        kv.put(kv_pb2.PutRequest(key="k", value=b"v"))
        with pytest.raises(goplugin.PluginExitedError) as info:
            kv.get(kv_pb2.GetRequest(key="k"))
    assert info.value.returncode == 3
    assert "about to crash" in info.value.stderr_tail
    assert_no_children()


def test_grandchildren_do_not_outlive_the_plugin(go_kv_plugin: Path, workdir: Path) -> None:
    # The plugin starts a helper that would otherwise be orphaned.
    cmd = sh(f"sleep 300 & exec {go_kv_plugin}")
    with goplugin.PluginClient(cmd, handshake=EXAMPLE_HANDSHAKE) as client:
        assert client.pid is not None
        assert len(psutil.Process().children(recursive=True)) == 2
    assert_no_children()


HOST_SCRIPT = textwrap.dedent(
    """
    import sys, time
    import goplugin
    handshake = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")
    client = goplugin.PluginClient([sys.argv[1]], handshake=handshake)
    client.start()
    print(client.pid, flush=True)
    if sys.argv[2] == "wait":
        time.sleep(60)
    """
)


@pytest.mark.parametrize("ending", ["exit", "sigterm"])
def test_host_exit_and_sigterm_reap_the_plugin(
    go_kv_plugin: Path, workdir: Path, ending: str
) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "sdk-python" / "src")}
    mode = "wait" if ending == "sigterm" else "exit"
    host = subprocess.Popen(
        [sys.executable, "-c", HOST_SCRIPT, str(go_kv_plugin), mode],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert host.stdout is not None
    plugin_pid = int(host.stdout.readline())
    if ending == "sigterm":
        assert psutil.pid_exists(plugin_pid)
        host.send_signal(signal.SIGTERM)
        assert host.wait(10) == -signal.SIGTERM
    else:
        assert host.wait(10) == 0
    assert not psutil.pid_exists(plugin_pid) or psutil.Process(plugin_pid).status() == "zombie"


def test_stdio_of_a_python_plugin_is_forwarded(
    py_kv_plugin: list[str], generated: Path, workdir: Path, tmp_path: Path
) -> None:
    from gen.kv import kv_goplugin, kv_pb2

    out_path, err_path = tmp_path / "out", tmp_path / "err"
    with (
        open(out_path, "wb") as out,
        open(err_path, "wb") as err,
        goplugin.PluginClient(
            py_kv_plugin, handshake=EXAMPLE_HANDSHAKE, sync_stdout=out, sync_stderr=err
        ) as client,
    ):
        kv_goplugin.KVClient(client.grpc_channel).put(kv_pb2.PutRequest(key="s", value=b"1"))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not (out_path.read_bytes() and err_path.read_bytes()):
            time.sleep(0.02)
    assert out_path.read_bytes() == b"stdout: put s\n"
    assert err_path.read_bytes() == b"stderr: put s\n"


FORK_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, time
    import goplugin
    handshake = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")
    client = goplugin.PluginClient([sys.argv[1]], handshake=handshake)
    client.start()
    for ending in ("exit", "sigterm"):
        child = os.fork()
        if child == 0:  # a forked worker (multiprocessing, a daemon) that ends normally
            if ending == "sigterm":
                time.sleep(30)
            sys.exit(0)
        if ending == "sigterm":
            time.sleep(0.2)
            os.kill(child, signal.SIGTERM)
        os.waitpid(child, 0)
    time.sleep(0.3)
    print("alive" if not client.exited else f"killed {client.returncode}", flush=True)
    client.kill()
    """
)


def test_a_forked_child_leaves_the_parents_plugins_alone(go_kv_plugin: Path, workdir: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "sdk-python" / "src")}
    result = subprocess.run(
        [sys.executable, "-c", FORK_SCRIPT, str(go_kv_plugin)],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert result.stdout.strip() == "alive", result.stdout + result.stderr
