"""goplugin's pytest plugin: found through its entry point, its fixtures work in a user's test
run (sync, asyncio, Go builds), and importing it costs every pytest run almost nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import EXAMPLES_PY
from gobuild import REPO

pytestmark = pytest.mark.interop

USER_TESTS = """
import asyncio

import pytest
from gen.kv import kv_goplugin, kv_pb2
from greeter_plugin import GreeterHello

import goplugin
from goplugin import netrpc
from goplugin.netrpc import gob

HANDSHAKE = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")


class Store(kv_goplugin.KVServicer):
    def __init__(self):
        self.data = {}

    def put(self, request, context):
        self.data[request.key] = request.value
        return kv_pb2.Empty()

    def get(self, request, context):
        return kv_pb2.GetResponse(value=self.data[request.key])


class AsyncStore(kv_goplugin.AsyncKVServicer):
    async def get(self, request, context):
        return kv_pb2.GetResponse(value=request.key.encode())


def test_in_process(goplugin_host):
    kv = goplugin_host.serve_in_process(
        {"kv": kv_goplugin.KVPlugin(impl=Store())}, handshake=HANDSHAKE, dispense="kv"
    )
    kv.put(kv_pb2.PutRequest(key="a", value=b"1"))
    assert kv.get(kv_pb2.GetRequest(key="a")).value == b"1"


def test_netrpc_in_process(goplugin_host):
    greeter = goplugin_host.serve_in_process(
        {"greeter": netrpc.Plugin(GreeterHello())}, handshake=HANDSHAKE, dispense="greeter"
    )
    assert greeter.call("Plugin.Greet", None, gob.STRING) == "Hello from Python!"


def test_go_binary(goplugin_build, goplugin_host, tmp_path, monkeypatch):
    binary = goplugin_build("./cmd/kv-plugin", module_dir=EXAMPLES_GO)
    monkeypatch.chdir(tmp_path)
    kv = goplugin_host.launch(
        binary, handshake=HANDSHAKE, plugins={"kv": kv_goplugin.KVPlugin()}, dispense="kv"
    )
    kv.put(kv_pb2.PutRequest(key="g", value=b"go"))
    assert kv.get(kv_pb2.GetRequest(key="g")).value == b"go"


def test_python_plugin(goplugin_host, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    kv = goplugin_host.launch_python(
        KV_PLUGIN, handshake=HANDSHAKE, plugins={"kv": kv_goplugin.KVPlugin()}, dispense="kv"
    )
    kv.put(kv_pb2.PutRequest(key="p", value=b"py"))
    assert kv.get(kv_pb2.GetRequest(key="p")).value == b"py"


@pytest.mark.asyncio
async def test_asyncio(goplugin_async_host):
    kv = await goplugin_async_host.serve_in_process(
        {"kv": kv_goplugin.KVPlugin(impl=AsyncStore())}, handshake=HANDSHAKE, dispense="kv"
    )
    assert (await kv.get(kv_pb2.GetRequest(key="x"))).value == b"x"
"""


def run_pytest(
    directory: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """A user's own pytest run: a fresh process, its own rootdir, our plugin via entry point."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=240,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(EXAMPLES_PY), str(REPO / "sdk-python" / "src")]),
            **(env or {}),
        },
    )


@pytest.mark.timeout(300)
def test_fixtures_in_a_users_test_run(tmp_path: Path, go_build_cache: Path) -> None:
    constants = (
        f"EXAMPLES_GO = {str(REPO / 'examples-go')!r}\n"
        f"KV_PLUGIN = {str(EXAMPLES_PY / 'kv_plugin.py')!r}\n"
    )
    (tmp_path / "test_user.py").write_text(constants + USER_TESTS)
    result = run_pytest(tmp_path, env={"GOPLUGIN_BUILD_CACHE": str(go_build_cache)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed" in result.stdout
    assert any(p.name.startswith("kv-plugin-") for p in go_build_cache.iterdir())


def test_the_plugin_is_registered_and_listed(tmp_path: Path) -> None:
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    result = run_pytest(tmp_path, "--fixtures", "-p", "no:asyncio")
    assert result.returncode == 0, result.stderr
    assert "goplugin_host" in result.stdout and "goplugin_build" in result.stdout
    # Without pytest-asyncio there is no asyncio fixture, and no error either.
    assert "goplugin_async_host" not in result.stdout
    with_asyncio = run_pytest(tmp_path, "--fixtures")
    assert "goplugin_async_host" in with_asyncio.stdout


IMPORTS = textwrap.dedent(
    """
    import json, sys
    import pytest
    before = set(sys.modules)
    import _goplugin_pytestplugin
    print(json.dumps(sorted(set(sys.modules) - before)))
    """
)


def test_the_pytest_plugin_imports_nothing_of_goplugin() -> None:
    """Every pytest run where goplugin is installed loads the plugin, used or not: it imports
    no goplugin module (``import goplugin`` defers grpc.aio and protobuf's pure-Python backend,
    which only processes using goplugin should have), let alone grpc or protobuf."""
    result = subprocess.run(
        [sys.executable, "-c", IMPORTS], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(result.stdout) == ["_goplugin_pytestplugin"]


def test_an_unused_plugin_leaves_a_test_run_alone(tmp_path: Path) -> None:
    """A test run that does not use goplugin never imports it, though the plugin is loaded."""
    (tmp_path / "test_other.py").write_text(
        "import sys\n\n"
        "def test_no_goplugin(pytestconfig):\n"
        "    assert pytestconfig.pluginmanager.has_plugin('goplugin')\n"
        "    assert not [m for m in sys.modules if m.startswith('goplugin')]\n"
    )
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_goplugin_does_not_import_testing() -> None:
    code = "import sys, goplugin; print(sorted(m for m in sys.modules if 'testing' in m))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "goplugin" not in result.stdout, result.stdout
