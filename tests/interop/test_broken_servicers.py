"""A plugin whose servicer cannot serve fails to start, and its host is told why.

Real plugin processes (tests/plugins/faults/servicers.py) serving servicers written wrong, a
Python host and go-plugin's Go host (testprogs/kvhost): serve() refuses them before it prints
the handshake line, so the host gets a start failure carrying serve()'s hclog ERROR line,
instead of a plugin that starts and then answers UNIMPLEMENTED (or fails call by call).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLE_HANDSHAKE, PLUGINS
from gobuild import go_program

import goplugin
from goplugin.errors import PluginExitedError

pytestmark = pytest.mark.interop

FAULT_PLUGIN = [sys.executable, str(PLUGINS / "fault_plugin.py")]

CASES = [
    # fault, flavour, what the message names
    ("servicer-pascal-case", "sync", "PascalKV.Get"),
    ("servicer-pascal-case", "aio", "AsyncPascalKV.Get"),
    ("servicer-async-def-in-sync", "sync", "AsyncDefKV.get"),
    ("servicer-plain-def-in-async", "aio", "PlainDefKV.get"),
    ("servicer-class", "sync", "class KV"),
    ("servicer-other-service", "sync", "Counter"),
]


@pytest.mark.parametrize(("fault", "flavour", "names"), CASES)
def test_a_python_host_sees_the_start_failure(
    fault: str, flavour: str, names: str, plugin_pythonpath: None, workdir: Path
) -> None:
    client = goplugin.PluginClient(
        FAULT_PLUGIN,
        handshake=EXAMPLE_HANDSHAKE,
        env={"GOPLUGIN_FAULT": fault, "GOPLUGIN_FAULT_FLAVOUR": flavour},
        start_timeout=30,
    )
    try:
        with pytest.raises(PluginExitedError) as info:
            client.start()
    finally:
        client.kill()
    tail = "\n".join(info.value.stderr_tail)
    # The line that says what went wrong comes last, after the traceback (written once): a
    # host keeps only a tail, and a deep traceback must not push that line out of it.
    assert "plugin failed to start" in info.value.stderr_tail[-1], tail
    assert names in info.value.stderr_tail[-1], tail
    assert tail.count("Traceback (most recent call last)") <= 1, tail


def test_a_go_host_logs_the_start_failure_as_an_error_line(
    plugin_pythonpath: None, workdir: Path
) -> None:
    result = subprocess.run(
        [str(go_program("./testprogs/kvhost")), "-plugin", shlex.join(FAULT_PLUGIN), "get", "k"],
        env={**os.environ, "GOPLUGIN_FAULT": "servicer-pascal-case"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "[ERROR] kvhost.sh:" in line]
    assert errors, result.stderr
    assert "plugin failed to start" in errors[0] and "PascalKV.Get" in errors[0], errors[0]
