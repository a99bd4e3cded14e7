"""A Python host that dies hard (SIGKILL) leaves no plugin running and no Python plugin's files.

On Linux every plugin gets a parent-death signal (SIGTERM) when its host dies; a Python plugin
also notices by itself and removes its sockets and its host's socket directory. What a Go
plugin killed this way cannot remove (its socket and the host's directory holding it) is the
documented limit.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from conftest import EXAMPLE_HANDSHAKE, EXAMPLES_PY, PLUGINS, REPO
from gobuild import go_program

import goplugin

pytestmark = pytest.mark.interop

HOST_SCRIPT = textwrap.dedent(
    """
    import json, sys, threading, time
    import goplugin
    handshake = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")
    report = {}
    for name, (cmd, env) in json.loads(sys.argv[1]).items():
        client = goplugin.PluginClient(cmd, handshake=handshake, env=env)
        # From a thread that ends at once: the plugin must not die with the thread.
        starter = threading.Thread(target=client.start)
        starter.start()
        starter.join()
        client.ping()
        report[name] = {"pid": client.pid, "dir": client._socket_dir}
    print(json.dumps(report), flush=True)
    time.sleep(120)
    """
)


@pytest.fixture
def short_tmpdir() -> Iterator[Path]:
    # Short on purpose: a Python plugin's socket path must fit in 107 bytes (issue 12.7).
    path = Path(tempfile.mkdtemp(prefix="gpdeath", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if not gone(pid)]
        if not alive:
            return []
        time.sleep(0.02)
    return [pid for pid in pids if not gone(pid)]


@pytest.mark.skipif(sys.platform != "linux", reason="parent-death signals are Linux only")
def test_plugins_exit_when_their_python_host_is_sigkilled(
    short_tmpdir: Path, workdir: Path
) -> None:
    go_plugin = str(go_program("./testprogs/faultplugin"))
    python_plugin = [sys.executable, str(PLUGINS / "fault_plugin.py")]
    plugins = {
        "go": ([go_plugin], {}),
        "python": (python_plugin, {}),
        "python-aio": (python_plugin, {"GOPLUGIN_FAULT_FLAVOUR": "aio"}),
    }
    env = {
        **os.environ,
        "TMPDIR": str(short_tmpdir),
        "PYTHONPATH": os.pathsep.join([str(REPO / "sdk-python" / "src"), str(EXAMPLES_PY)]),
    }
    host = subprocess.Popen(
        [sys.executable, "-c", HOST_SCRIPT, json.dumps(plugins)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert host.stdout is not None
        line = host.stdout.readline()
        assert line, "the host did not start its plugins"
        report = json.loads(line)
        pids = [info["pid"] for info in report.values()]
        assert wait_gone(pids, 0) == pids, "a plugin died with the thread that started it"
        host.send_signal(signal.SIGKILL)
        host.wait(10)
        killed_at = time.monotonic()
        assert wait_gone(pids, 2.0) == [], "plugins outlived their host by more than 2 s"
        took = time.monotonic() - killed_at
    finally:
        host.kill()
        host.wait()
        for pid in [info["pid"] for info in report.values()] if "report" in locals() else []:
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)
    # The Python plugins removed their sockets and their host's directories; a Go plugin
    # cannot (it dies of the signal), so exactly its host directory with its socket remains.
    deadline = time.monotonic() + 2
    left = sorted(p.name for p in short_tmpdir.iterdir())
    go_dir = Path(report["go"]["dir"]).name
    while left != [go_dir] and time.monotonic() < deadline:
        time.sleep(0.05)
        left = sorted(p.name for p in short_tmpdir.iterdir())
    assert left == [go_dir], f"left behind: {left}"
    assert [p.name.startswith("plugin") for p in (short_tmpdir / go_dir).iterdir()] == [True]
    print(f"plugins gone {took * 1000:.0f} ms after the host's SIGKILL")


def test_a_plugin_started_from_a_short_lived_thread_outlives_the_thread(
    go_kv_plugin: Path, workdir: Path
) -> None:
    # PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the process.
    client = goplugin.PluginClient([go_kv_plugin], handshake=EXAMPLE_HANDSHAKE)
    starter = threading.Thread(target=client.start)
    starter.start()
    starter.join(30)
    time.sleep(0.3)
    assert not client.exited
    client.ping()
    client.kill()
