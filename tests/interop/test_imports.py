"""What a plugin or host process loads: nothing it does not need before its first call.

Every plugin launch pays its imports. A sync process must never run grpc.aio (grpcio's own
``import grpc`` would, through ``from grpc import aio``, unless goplugin is imported first), and
a process that asked for no TLS must not load goplugin's TLS modules, cryptography, or an
``ssl`` that the gRPC engine itself does not load. Checked in real processes after a real call
(the plugin and host in tests/plugins report the modules that ran), with a Go host and a Go
plugin on the other side; the asyncio twins prove the deferral keeps goplugin.aio working.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PLUGINS

pytestmark = pytest.mark.interop

#: Loaded only for TLS (AutoMTLS, TCP with TLS): a plaintext process has no use for them.
TLS_MODULES = (
    "goplugin._transport.mtls",
    "goplugin._protocol.x509",
    "goplugin._transport.tlsrelay",
    "goplugin._transport.tlslink",
)


def _reference_modules() -> set[str]:
    """What ``import grpc`` alone runs in this environment: the engine's own needs."""
    code = f"import sys; sys.path.insert(0, {str(PLUGINS)!r}); import grpc; "
    code += "from imports_plugin import executed_modules; print(executed_modules())"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return set(out.stdout.strip().split(","))


def _unneeded(modules: set[str], reference: set[str]) -> list[str]:
    """The modules of a plaintext sync process that it should not have loaded."""
    bad = [m for m in modules if m == "grpc.aio" or m.startswith("grpc.aio.")]
    bad += [m for m in modules if m == "cryptography" or m.startswith("cryptography.")]
    bad += [m for m in TLS_MODULES if m in modules]
    bad += [m for m in ("ssl", "_ssl") if m in modules and m not in reference]
    return sorted(bad)


def _modules(stdout: str) -> set[str]:
    for line in stdout.splitlines():
        if line.startswith(("modules=", "value=")) and "," in line:
            return set(line.split("=", 1)[1].split(","))
    raise AssertionError(f"no module list in:\n{stdout}")


@pytest.mark.parametrize("flavour", ["sync", "aio"])
def test_a_python_plugin_serving_a_go_host_loads_only_what_it_needs(
    engine: str, flavour: str, kvhost: Path, plugin_pythonpath: None, workdir: Path
) -> None:
    script = PLUGINS / "imports_plugin.py"
    plugin = f"env IMPORTS_PLUGIN_FLAVOUR={flavour} {sys.executable} {script}"
    result = subprocess.run(
        [str(kvhost), "-plugin", plugin, "put", "k", "v", "get", "modules"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    modules = _modules(result.stdout)
    assert "goplugin._sync.server" in modules or "goplugin._async.server" in modules
    if engine == "pure":  # goplugin's own HTTP/2 server: no grpc at all, even after a call
        assert "goplugin._engines._server" in modules
        assert sorted(m for m in modules if m == "grpc" or m.startswith("grpc.")) == []
        assert _unneeded(modules, _reference_modules()) == []
    elif flavour == "sync":
        assert _unneeded(modules, _reference_modules()) == []
    else:  # deferred, then run on first use: asyncio plugins work as before
        assert "grpc.aio._server" in modules
        assert not [m for m in TLS_MODULES if m in modules]


@pytest.mark.parametrize("flavour", ["sync", "aio"])
def test_a_python_host_calling_a_go_plugin_loads_only_what_it_needs(
    flavour: str, go_kv_plugin: Path, plugin_pythonpath: None, workdir: Path
) -> None:
    result = subprocess.run(
        [sys.executable, str(PLUGINS / "imports_host.py"), flavour, str(go_kv_plugin)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": f"{PLUGINS}{os.pathsep}{os.environ['PYTHONPATH']}"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "value=v\n" in result.stdout
    modules = _modules(result.stdout)
    if flavour == "sync":
        assert _unneeded(modules, _reference_modules()) == []
    else:
        assert "grpc.aio._channel" in modules
        assert not [m for m in TLS_MODULES if m in modules]
