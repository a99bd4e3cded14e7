"""`python -m goplugin inspect`: one JSON object on success, one line and exit 1 on failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

import goplugin

pytestmark = pytest.mark.interop


def inspect(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    pythonpath = os.pathsep.join(
        [str(REPO / "sdk-python" / "src"), *(env or {}).get("PYTHONPATH", "").split(os.pathsep)]
    )
    return subprocess.run(
        [sys.executable, "-m", "goplugin", "inspect", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {}), "PYTHONPATH": pythonpath},
    )


def test_inspect_a_go_plugin(go_kv_plugin: Path, workdir: Path) -> None:
    result = inspect(str(go_kv_plugin), "--cookie", "BASIC_PLUGIN=hello")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["core_version"] == 1 and info["app_version"] == 1
    assert (info["network"], info["protocol"], info["tls"]) == ("unix", "grpc", False)
    assert isinstance(info["pid"], int)
    assert "proto.KV" in info["services"]
    assert "plugin.GRPCController" in info["services"]
    assert not os.path.exists(info["address"])  # stopped and cleaned up


def test_inspect_a_python_plugin(py_kv_plugin: list[str], workdir: Path) -> None:
    result = inspect(
        *py_kv_plugin,
        "--cookie",
        "BASIC_PLUGIN=hello",
        env={"PYTHONPATH": os.environ["PYTHONPATH"]},
    )
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert services == sorted(set(services))
    assert {"proto.KV", "grpc.health.v1.Health", "plugin.GRPCStdio"} <= set(services)


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--cookie", "BASIC_PLUGIN=bye"], "plugin stderr: This binary is a plugin"),
        (["--cookie", "BASIC_PLUGIN=hello", "--version", "7"], "Incompatible API version"),
    ],
)
def test_inspect_failures_are_one_line(
    go_kv_plugin: Path, workdir: Path, args: list[str], reason: str
) -> None:
    result = inspect(str(go_kv_plugin), *args)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and reason in result.stderr, result.stderr


def test_inspect_missing_binary(tmp_path: Path) -> None:
    result = inspect(str(tmp_path / "nope"), "--cookie", "A=b")
    assert result.returncode == 1
    assert "LaunchError" in result.stderr and "No such file" in result.stderr
    assert result.stderr.count("\n") == 1


def test_version(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "goplugin", "--version"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"goplugin {goplugin.__version__}\n"


def test_aio_needs_no_import_and_costs_nothing_until_used() -> None:
    # A plugin pays its imports at every launch: `import goplugin` must not load the asyncio
    # flavour (nor grpc) just because `goplugin.aio` became reachable as an attribute.
    code = (
        "import sys, goplugin\n"
        "assert 'goplugin.aio' not in sys.modules and 'grpc' not in sys.modules\n"
        "assert goplugin.aio.PluginClient.__module__ == 'goplugin._async.client'\n"
        "assert goplugin.aio.serve is sys.modules['goplugin._async.server'].serve\n"
        "assert goplugin.netrpc.gob.STRING is not None\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd="/"
    )
    assert result.returncode == 0, result.stderr
