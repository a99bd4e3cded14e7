"""Shared fixtures: real Go binaries, generated stubs for the KV contract, a scratch cwd."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import goplugin

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gobuild import REPO, go_plugin_example, go_program

#: go-plugin's examples all use this handshake.
EXAMPLE_HANDSHAKE = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")
PLUGINS = Path(__file__).resolve().parent / "plugins"


@pytest.fixture(scope="session")
def kv_stubs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Python stubs of proto/kv/kv.proto, importable as ``kv.kv_pb2``/``kv.kv_pb2_grpc``."""
    out = tmp_path_factory.mktemp("kvstubs")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{REPO / 'proto'}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            str(REPO / "proto/kv/kv.proto"),
        ],
        check=True,
    )
    (out / "kv" / "__init__.py").touch()
    sys.path.insert(0, str(out))
    return out


@pytest.fixture(scope="session")
def go_kv_plugin() -> Path:
    """go-plugin's own examples/grpc plugin-go-grpc, built unmodified."""
    return go_plugin_example("grpc", "plugin-go-grpc")


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
def py_kv_plugin(kv_stubs: Path) -> Iterator[list[str]]:
    """Command line of the Python KV test plugin (a real Python process serving with goplugin)."""
    env_path = os.pathsep.join([str(kv_stubs), str(REPO / "sdk-python" / "src")])
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = env_path if not old else env_path + os.pathsep + old
    yield [sys.executable, str(PLUGINS / "kv_plugin.py")]
    if old is None:
        del os.environ["PYTHONPATH"]
    else:
        os.environ["PYTHONPATH"] = old
