"""Shared fixtures: real Go binaries, generated stubs for the KV contract, a scratch cwd."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import goplugin

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gobuild import REPO as REPO  # tests import it from here
from gobuild import go_plugin_example, go_program
from leaks import private_tmpdir

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


@pytest.fixture(scope="session")
def go_build_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One build cache of goplugin.testing.build_go_plugin for the whole run: each binary is
    linked once, however many tests build it."""
    return tmp_path_factory.mktemp("goplugin-build-cache")


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


#: goplugin's serving engines (goplugin._engines): every gRPC Python plugin test runs on each.
ENGINES = ["grpcio", "pure"]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The serving engine of the Python plugins this test launches (GOPLUGIN_ENGINE, which
    plugins honour over their default and which hosts pass on to the plugins they start)."""
    name: str = request.param
    monkeypatch.setenv("GOPLUGIN_ENGINE", name)
    return name


@pytest.fixture
def py_kv_plugin(plugin_pythonpath: None, engine: str) -> list[str]:
    """Command line of the Python KV test plugin (a real Python process serving with goplugin)."""
    return [sys.executable, str(PLUGINS / "kv_plugin.py")]


@pytest.fixture
def py_netrpc_plugin(plugin_pythonpath: None) -> list[str]:
    """The Python net/rpc test plugin: greeter, net/rpc KV and a broker callback."""
    return [sys.executable, str(PLUGINS / "netrpc_plugin.py")]


@pytest.fixture
def py_counter_plugin(plugin_pythonpath: None, engine: str) -> list[str]:
    """The Python plugin of go-plugin's bidirectional contract (dials the host's AddHelper)."""
    return [sys.executable, str(EXAMPLES_PY / "counter_plugin.py")]


@pytest.fixture
def private_tmp() -> Iterator[Path]:
    """TMPDIR (and tempfile.tempdir) of this test alone: a test that counts what is left in the
    temp directory must not count what concurrent test runs leave in the shared /tmp."""
    with private_tmpdir() as path:
        yield path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test parametrized over its plugin runs the Go-plugin case once, not once per engine
    (the engine fixture is requested for the Python case only, but pytest multiplies all)."""
    kept, dropped = [], []
    for item in items:
        params = getattr(item, "callspec", None)
        params = params.params if params is not None else {}
        if params.get("engine") == "pure" and params.get("plugin") == "go":
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
