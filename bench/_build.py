"""Build what the benchmark runs: our Go programs with ``go build``, go-plugin's examples with
``go install pkg@v1.8.0`` (unmodified, from the module proxy), and locate plugin-python.

The building itself is the test suite's (tests/gobuild.py), so tests and benchmarks run the
very same binaries from .build/; Go's build cache keeps rebuilds cheap.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from gobuild import GO_PLUGIN, GO_PLUGIN_VERSION, go_plugin_example, go_program  # noqa: E402

__all__ = ["Built", "build"]

#: examples-go main packages and the binary name each is built as.
GO_PROGRAMS = {
    "benchhost": "./testprogs/benchhost",
    "kv-plugin": "./cmd/kv-plugin",
    "streaming-plugin": "./cmd/streaming-plugin",
}


@dataclass(frozen=True)
class Built:
    benchhost: Path
    go_kv: Path
    go_streaming: Path
    #: go-plugin's examples/basic greeter plugin (net/rpc).
    greeter: Path
    #: go-plugin's examples/grpc/plugin-python folder, in the module cache (never modified).
    plugin_python: Path
    go_version: str


def _go(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    go = shutil.which("go")
    if go is None:
        raise SystemExit("bench: the Go toolchain is required (go not on PATH)")
    result = subprocess.run(
        [go, *args], cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"bench: go {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def build() -> Built:
    built = {name: go_program(package) for name, package in GO_PROGRAMS.items()}
    greeter = go_plugin_example("basic", "plugin")
    module = json.loads(
        _go("mod", "download", "-json", f"{GO_PLUGIN}@{GO_PLUGIN_VERSION}", cwd=ROOT)
    )
    plugin_python = Path(module["Dir"]) / "examples" / "grpc" / "plugin-python"
    if not (plugin_python / "plugin.py").exists():
        raise SystemExit(f"bench: {plugin_python}/plugin.py not found")
    return Built(
        benchhost=built["benchhost"],
        go_kv=built["kv-plugin"],
        go_streaming=built["streaming-plugin"],
        greeter=greeter,
        plugin_python=plugin_python,
        go_version=_go("version", cwd=ROOT).strip(),
    )
