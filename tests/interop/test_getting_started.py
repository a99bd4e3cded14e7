"""The getting-started pages' pairings, run as the pages say (docs/getting-started/).

The pages show examples-py/kv_host.py, examples-py/kv_plugin.py and examples-go/cmd/kv-host and
kv-plugin through literalinclude; here each pairing runs them with the pages' command lines,
in a directory holding only the generated code, as a reader's would.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from gobuild import REPO, go_plugin_example, go_program

pytestmark = pytest.mark.interop

EXAMPLES_PY = REPO / "examples-py"


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        args, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture
def reader(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLES_PY / "gen", tmp_path / "gen")
    for example in ("kv_host.py", "kv_plugin.py"):
        shutil.copy(EXAMPLES_PY / example, tmp_path / example)
    return tmp_path


PY_PLUGIN = f"{shlex.quote(sys.executable)} kv_plugin.py"


def py_host(*args: str) -> list[str]:
    return [sys.executable, "kv_host.py", *args]


def test_python_host_go_plugin(reader: Path) -> None:
    plugin = str(go_plugin_example("grpc", "plugin-go-grpc"))
    run(py_host(plugin, "put", "hello", "world"), reader)
    assert run(py_host(plugin, "get", "hello"), reader) == "world\n\nWritten from plugin-go-grpc\n"


def test_go_host_python_plugin(reader: Path) -> None:
    env = {"KV_PROTO": "grpc", "KV_PLUGIN": PY_PLUGIN}
    host = str(go_plugin_example("grpc", "grpc"))
    run([host, "put", "hello", "world"], reader, env)
    assert run([host, "get", "hello"], reader, env) == "world\n"
    ours = str(go_program("./cmd/kv-host"))
    assert run([ours, PY_PLUGIN, "get", "hello"], reader) == "world\n"


def test_python_host_python_plugin(reader: Path) -> None:
    run(py_host(PY_PLUGIN, "put", "hello", "world"), reader)
    assert run(py_host(PY_PLUGIN, "get", "hello"), reader) == "world\n"


def test_go_host_go_plugin(reader: Path) -> None:
    host, plugin = str(go_program("./cmd/kv-host")), str(go_program("./cmd/kv-plugin"))
    run([host, plugin, "put", "hello", "world"], reader)
    assert run([host, plugin, "get", "hello"], reader) == "world\n"
