"""Shared fixtures: real Go binaries, generated stubs for the KV contract, a scratch cwd."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import goplugin

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gobuild import REPO, go_plugin_example, go_program

#: go-plugin's examples all use this handshake.
EXAMPLE_HANDSHAKE = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")
PLUGINS = Path(__file__).resolve().parent / "plugins"
EXAMPLES_PY = REPO / "examples-py"
# Tests import the committed generated code (examples-py/gen) like the examples do.
sys.path.insert(0, str(EXAMPLES_PY))


@pytest.fixture(scope="session")
def generated() -> Path:
    """The generated Python code of proto/ (``gen.kv``, ``gen.counter``, ...), as committed."""
    return EXAMPLES_PY


@pytest.fixture(scope="session")
def go_kv_plugin() -> Path:
    """go-plugin's own examples/grpc plugin-go-grpc, built unmodified."""
    return go_plugin_example("grpc", "plugin-go-grpc")


@pytest.fixture(scope="session")
def go_greeter_plugin() -> Path:
    """go-plugin's examples/basic greeter plugin (net/rpc), built unmodified."""
    return go_plugin_example("basic", "plugin")


@pytest.fixture(scope="session")
def go_netrpc_kv_plugin() -> Path:
    """go-plugin's examples/grpc plugin-go-netrpc (the KV contract over net/rpc), unmodified."""
    return go_plugin_example("grpc", "plugin-go-netrpc")


@pytest.fixture(scope="session")
def rpchost() -> Path:
    """Our go-plugin net/rpc test host (examples-go/testprogs/rpchost)."""
    return go_program("./testprogs/rpchost")


@pytest.fixture(scope="session")
def kvhost() -> Path:
    """Our go-plugin test host (examples-go/testprogs/kvhost)."""
    return go_program("./testprogs/kvhost")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Plugins of the KV examples store files in their cwd: give each test its own."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def plugin_pythonpath(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python plugins find goplugin and the generated code through PYTHONPATH."""
    paths = [str(EXAMPLES_PY), str(REPO / "sdk-python" / "src")]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))


@pytest.fixture
def py_kv_plugin(plugin_pythonpath: None) -> list[str]:
    """Command line of the Python KV test plugin (a real Python process serving with goplugin)."""
    return [sys.executable, str(PLUGINS / "kv_plugin.py")]


@pytest.fixture
def py_netrpc_plugin(plugin_pythonpath: None) -> list[str]:
    """The Python net/rpc test plugin: greeter, net/rpc KV and a broker callback."""
    return [sys.executable, str(PLUGINS / "netrpc_plugin.py")]


@pytest.fixture
def py_counter_plugin(plugin_pythonpath: None) -> list[str]:
    """The Python plugin of go-plugin's bidirectional contract (dials the host's AddHelper)."""
    return [sys.executable, str(EXAMPLES_PY / "counter_plugin.py")]
