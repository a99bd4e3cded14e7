"""One contract, every pairing: the KV and Streamer behaviours hold for each (host, plugin).

Hosts: ``go`` (examples-go/testprogs/hostcheck, generated Go glue only), ``py`` and ``pyaio``
(goplugin.PluginClient / goplugin.aio.PluginClient with the generated clients). Plugins: the
Go examples (examples-go/cmd) and the Python examples (examples-py, thread-pool and asyncio),
each a real process. Go host <-> Go plugin is the reference. Each pairing runs every scenario
once (module-scoped), and each scenario is its own test, so a failure names both sides.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _contracts import (
    BIG,
    EXAMPLES_PY,
    MANY,
    REPO,
    VECTORS,
    arun_kv,
    arun_streaming,
    deadline_reported,
    digest,
    echo_cases,
    pattern,
    run_kv,
    run_streaming,
    severity_names,
)
from gen.kv import kv_goplugin
from gen.streaming import streaming_goplugin
from gobuild import go_plugin_example, go_program

import goplugin
import goplugin.aio

pytestmark = pytest.mark.interop

KV_HANDSHAKE = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")
STREAMING_HANDSHAKE = goplugin.HandshakeConfig(1, "STREAMING_PLUGIN", "events")
PYTHON_ENV = {"PYTHONPATH": str(REPO / "sdk-python" / "src")}

HOSTS = ["go", "py", "pyaio"]
# Python plugins run on both serving engines: "py"/"pyaio" on grpcio, "-pure" on goplugin's own.
KV_PAIRS = [(host, plugin) for host in HOSTS for plugin in ("go", "py", "py-pure")]
# Every host with every plugin, except the Python hosts with the other Python flavour's plugin:
# those pairings add run time (grpcio's sync streams cost ~0.3 ms a message) but no coverage.
STREAMING_PAIRS = [
    ("go", "go"),
    ("py", "go"),
    ("pyaio", "go"),
    ("go", "py"),
    ("go", "pyaio"),
    ("py", "py"),
    ("pyaio", "pyaio"),
    ("go", "py-pure"),
    ("go", "pyaio-pure"),
    ("py", "py-pure"),
    ("pyaio", "pyaio-pure"),
]


def _plugin_env(plugin: str) -> dict[str, str]:
    engine = "pure" if plugin.endswith("-pure") else "grpcio"
    return {**PYTHON_ENV, "GOPLUGIN_ENGINE": engine}


def _plugin_cmd(contract: str, plugin: str) -> list[str]:
    plugin = plugin.removesuffix("-pure")
    if plugin == "go":
        return [str(go_program(f"./cmd/{contract}-plugin"))]
    script = {"kv": "kv_plugin.py", "streaming": "streaming_plugin.py"}[contract]
    if plugin == "pyaio":
        script = "streaming_plugin_aio.py"
    return [sys.executable, str(EXAMPLES_PY / script)]


def _run_go_host(contract: str, cmd: list[str], cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    args = [str(go_program("./testprogs/hostcheck")), contract]
    if contract == "streaming":
        args.append(str(VECTORS))
    proc = subprocess.run(
        [*args, *cmd],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"hostcheck failed:\n{proc.stderr[-4000:]}"
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def _run_py_host(contract: str, cmd: list[str], cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    if contract == "kv":
        plugins: dict[str, Any] = {"kv": kv_goplugin.KVPlugin()}
        with goplugin.PluginClient(
            cmd, handshake=KV_HANDSHAKE, plugins=plugins, cwd=cwd, env=env
        ) as client:
            kv = client.dispense("kv")
            assert isinstance(kv, kv_goplugin.KVClient)
            return run_kv(kv)
    plugins = {"streamer": streaming_goplugin.StreamerPlugin()}
    with goplugin.PluginClient(
        cmd, handshake=STREAMING_HANDSHAKE, plugins=plugins, cwd=cwd, env=env
    ) as client:
        streamer = client.dispense("streamer")
        assert isinstance(streamer, streaming_goplugin.StreamerClient)
        return run_streaming(streamer)


async def _arun_py_host(
    contract: str, cmd: list[str], cwd: Path, env: dict[str, str]
) -> dict[str, Any]:
    if contract == "kv":
        plugins: dict[str, Any] = {"kv": kv_goplugin.KVPlugin()}
        async with goplugin.aio.PluginClient(
            cmd, handshake=KV_HANDSHAKE, plugins=plugins, cwd=cwd, env=env
        ) as client:
            kv = await client.dispense("kv")
            assert isinstance(kv, kv_goplugin.AsyncKVClient)
            return await arun_kv(kv)
    plugins = {"streamer": streaming_goplugin.StreamerPlugin()}
    async with goplugin.aio.PluginClient(
        cmd, handshake=STREAMING_HANDSHAKE, plugins=plugins, cwd=cwd, env=env
    ) as client:
        streamer = await client.dispense("streamer")
        assert isinstance(streamer, streaming_goplugin.AsyncStreamerClient)
        return await arun_streaming(streamer)


_cache: dict[tuple[str, str, str], dict[str, Any]] = {}


def observations(contract: str, host: str, plugin: str, tmp: Path) -> dict[str, Any]:
    """Run every scenario of ``contract`` once per pairing; later tests reuse the result."""
    key = (contract, host, plugin)
    if key not in _cache:
        tmp.mkdir(parents=True, exist_ok=True)  # the plugin's cwd: the KV plugins write files
        cmd = _plugin_cmd(contract, plugin)
        env = _plugin_env(plugin)
        if host == "go":
            _cache[key] = _run_go_host(contract, cmd, tmp, env)
        elif host == "py":
            _cache[key] = _run_py_host(contract, cmd, tmp, env)
        else:
            _cache[key] = asyncio.run(_arun_py_host(contract, cmd, tmp, env))
    return _cache[key]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("contracts")


# -- KV ------------------------------------------------------------------------------------

KV_EXPECTED: dict[str, Any] = {
    "put_get": {"value": "world"},
    "big": {"size": BIG, "sha256": hashlib.sha256(pattern(1, BIG)).hexdigest()},
}


@pytest.mark.parametrize(("host", "plugin"), KV_PAIRS)
@pytest.mark.parametrize("scenario", ["put_get", "big", "missing"])
def test_kv(scenario: str, host: str, plugin: str, scratch: Path) -> None:
    seen = observations("kv", host, plugin, scratch / f"kv-{host}-{plugin}")
    if scenario == "missing":
        assert seen["missing"]["code"] == "NOT_FOUND"
    else:
        assert seen[scenario] == KV_EXPECTED[scenario]


# -- Streamer ------------------------------------------------------------------------------


def _stream(first: int, count: int, size: int) -> dict[str, Any]:
    return {
        "count": count,
        "first": first,
        "last": first + count - 1,
        "in_order": True,
        "blob_bytes": count * size,
        "digest": digest(range(first, first + count), size),
    }


def _summary(count: int, size: int) -> dict[str, Any]:
    names = severity_names()
    by_severity: dict[str, int] = {}
    for seq in range(count):
        by_severity[names[seq % 5]] = by_severity.get(names[seq % 5], 0) + 1
    return {
        "count": count,
        "blob_bytes": count * size,
        "last": count - 1,
        "in_order": True,
        "digest": digest(range(count), size),
        "by_severity": by_severity,
    }


STREAMING_EXPECTED: dict[str, Any] = {
    "generate": _stream(5, MANY, 64),
    "collect": _summary(MANY, 64),
    "exchange": _stream(0, MANY, 64),
    "big_echo": {"seq": 7, "size": BIG, "sha256": hashlib.sha256(pattern(7, BIG)).hexdigest()},
    "big_generate": _stream(0, 2, BIG),
    "big_collect": _summary(2, BIG),
    "big_exchange": _stream(0, 2, BIG),
    "stream_break": {"received": 100, "echo_after": True},
}

SCENARIOS = [*STREAMING_EXPECTED, "echo_vectors", "echo_invalid", "deadline", "cancel"]


def _golden_hex(name: str, host: str) -> str:
    golden = json.loads((VECTORS.parent / "golden.json").read_text())[name]
    if isinstance(golden, dict):  # the languages' deterministic map orders differ
        return str(golden["go" if host == "go" else "python"])
    return str(golden)


@pytest.mark.parametrize(("host", "plugin"), STREAMING_PAIRS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_streaming(scenario: str, host: str, plugin: str, scratch: Path) -> None:
    seen = observations("streaming", host, plugin, scratch / "streaming")[scenario]
    if scenario in STREAMING_EXPECTED:
        assert seen == STREAMING_EXPECTED[scenario]
    elif scenario == "echo_vectors":
        # Every feature (well-known types, optional, oneof, maps, enums, nested and imported
        # messages) survives the round trip through the plugin, to the byte.
        assert set(seen) == {name for name, _ in echo_cases()}
        for name, echoed in seen.items():
            assert echoed == {"equal": True, "hex": _golden_hex(name, host)}, name
    elif scenario == "echo_invalid":
        assert seen == {"code": "INVALID_ARGUMENT", "details": "event has no body"}
    elif scenario == "deadline":
        assert deadline_reported(seen, plugin), seen
        assert seen["plugin_saw_end"] is True
    else:
        assert seen["started"] is True
        assert seen["code"] == "CANCELLED"
        assert seen["plugin_saw_end"] is True


@pytest.mark.parametrize("plugin", ["go", "py", "py-pure"])
def test_go_plugins_own_kv_host_uses_our_generated_plugins(plugin: str, tmp_path: Path) -> None:
    """proto/kv stays wire-compatible with go-plugin's examples/grpc: its unmodified host runs
    our generated KV plugins (in that host, a plugin's set name does not matter for gRPC)."""
    host = str(go_plugin_example("grpc", "grpc"))
    env = {
        **os.environ,
        **_plugin_env(plugin),
        "KV_PROTO": "grpc",
        "KV_PLUGIN": shlex.join(_plugin_cmd("kv", plugin)),
    }
    for args in (["put", "hello", "world"], ["get", "hello"]):
        proc = subprocess.run(
            [host, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == "world\n"
