"""Python net/rpc plugins served to unmodified Go hosts: go-plugin's examples and rpchost."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = pytest.mark.interop

NOT_GRACEFUL = ("plugin failed to exit gracefully", "error closing client during Kill")


def test_go_basic_example_host_loads_the_python_greeter(
    plugin_pythonpath: None, tmp_path: Path
) -> None:
    """go-plugin's examples/basic main program runs ./plugin/greeter from its cwd."""
    from gobuild import go_plugin_example

    host = go_plugin_example("basic", "basic")
    greeter = tmp_path / "plugin" / "greeter"
    greeter.parent.mkdir()
    plugin = REPO / "examples-py" / "greeter_plugin.py"
    greeter.write_text(f"#!/bin/sh\nexec {shlex.join([sys.executable, str(plugin)])}\n")
    greeter.chmod(0o755)
    result = subprocess.run(
        [str(host)], cwd=tmp_path, capture_output=True, text=True, timeout=60, env=os.environ
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # The host logs to its stdout, next to the reply it prints.
    assert "Hello from Python!" in result.stdout.splitlines(), result.stdout
    assert not any(text in result.stdout for text in NOT_GRACEFUL), result.stdout


@pytest.mark.parametrize("flavour", ["sync", "asyncio"])
def test_go_grpc_example_host_with_kv_proto_netrpc(
    py_netrpc_plugin: list[str], workdir: Path, flavour: str
) -> None:
    from gobuild import go_plugin_example

    host = go_plugin_example("grpc", "grpc")
    env = {
        **os.environ,
        "KV_PROTO": "netrpc",
        "KV_PLUGIN": shlex.join(py_netrpc_plugin),
        "NETRPC_TEST_AIO": "1" if flavour == "asyncio" else "",
    }
    put = subprocess.run(
        [str(host), "put", "hello", "world"], env=env, capture_output=True, text=True, timeout=60
    )
    assert put.returncode == 0, put.stdout + put.stderr
    get = subprocess.run(
        [str(host), "get", "hello"], env=env, capture_output=True, text=True, timeout=60
    )
    assert get.returncode == 0, get.stdout + get.stderr
    assert get.stdout.startswith("world\n\nWritten from plugin-python-netrpc")
    if flavour == "sync":  # the plugin's logging, at its level (Go orders the fields randomly)
        assert re.search(r"\[INFO\]  plugin\.sh: put: .*key=hello", put.stderr), put.stderr
    assert not any(text in put.stderr + get.stderr for text in NOT_GRACEFUL)


@pytest.mark.parametrize(
    ("flags", "flavour"), [((), "sync"), (("-mtls",), "sync"), (("-mtls",), "asyncio")], ids=str
)
def test_rpchost(
    py_netrpc_plugin: list[str], rpchost: Path, workdir: Path, flags: tuple[str, ...], flavour: str
) -> None:
    env = {**os.environ, "NETRPC_TEST_AIO": "1" if flavour == "asyncio" else ""}
    result = subprocess.run(
        [str(rpchost), *flags, *py_netrpc_plugin],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "ping ok",
        "greet Hello!",
        "get hello from a Go host",
        "sum 42",  # the plugin called back into the Go host through the MuxBroker
        "stdout stdout: greet",
        "ok",
    ]
    if flags:
        assert "configuring client automatic mTLS" in result.stderr
    assert not any(text in result.stderr for text in NOT_GRACEFUL), result.stderr
    assert "plugin process exited" in result.stderr
