"""Build what the benchmark runs: our Go programs with ``go build``, go-plugin's examples with
``go install pkg@v1.8.0`` (unmodified, from the module proxy), and locate plugin-python.

Outputs go to .build/bench/ at the repository root; Go's build cache keeps rebuilds cheap.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Built", "build"]

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / ".build" / "bench"
GO_PLUGIN = "github.com/hashicorp/go-plugin"
GO_PLUGIN_VERSION = "v1.8.0"

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
    bin_dir = OUT / "bin"
    flags = {"GOFLAGS": "-buildvcs=false"}
    for name, package in GO_PROGRAMS.items():
        _go("build", "-o", str(bin_dir / name), package, cwd=ROOT / "examples-go", env=flags)
    gobin = OUT / "go-plugin-basic"
    example = f"{GO_PLUGIN}/examples/basic/plugin@{GO_PLUGIN_VERSION}"
    _go("install", example, cwd=ROOT, env={**flags, "GOBIN": str(gobin)})
    module = json.loads(
        _go("mod", "download", "-json", f"{GO_PLUGIN}@{GO_PLUGIN_VERSION}", cwd=ROOT)
    )
    plugin_python = Path(module["Dir"]) / "examples" / "grpc" / "plugin-python"
    if not (plugin_python / "plugin.py").exists():
        raise SystemExit(f"bench: {plugin_python}/plugin.py not found")
    return Built(
        benchhost=bin_dir / "benchhost",
        go_kv=bin_dir / "kv-plugin",
        go_streaming=bin_dir / "streaming-plugin",
        greeter=gobin / "plugin",
        plugin_python=plugin_python,
        go_version=_go("version", cwd=ROOT).strip(),
    )
