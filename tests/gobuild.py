"""Build the real Go programs the interop tests run: go-plugin's own examples and our testprogs.

go-plugin's examples are built unmodified from its module at the pinned tag with
``go install pkg@version`` (their own go.mod decides their dependencies); our test programs and
examples are built from the examples-go module. Binaries are cached under ``.build/`` at the
repository root, and Go's own build cache makes rebuilds cheap. A missing Go toolchain is a
test failure, never a skip.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / ".build"
EXAMPLES_GO = REPO / "examples-go"
GO_PLUGIN = "github.com/hashicorp/go-plugin"
GO_PLUGIN_VERSION = "v1.8.0"

# Binary names collide across examples (two are called "plugin"), so each gets its own GOBIN.
GO_PLUGIN_EXAMPLES = {
    "grpc": ["examples/grpc", "examples/grpc/plugin-go-grpc", "examples/grpc/plugin-go-netrpc"],
    "bidirectional": ["examples/bidirectional", "examples/bidirectional/plugin-go-grpc"],
    "basic": ["examples/basic", "examples/basic/plugin"],
    "streaming": ["examples/streaming", "examples/streaming/plugin"],
    "negotiated": ["examples/negotiated", "examples/negotiated/plugin-go"],
}

_built: dict[str, Path] = {}


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("the Go toolchain is required for interop tests (go not on PATH)")
    return go


def _locked_build(key: str, args: list[str], *, cwd: Path, env: dict[str, str]) -> None:
    BUILD.mkdir(exist_ok=True)
    with open(BUILD / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # pytest-xdist workers build one at a time
        result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"building {key} failed:\n{result.stdout}\n{result.stderr}")


def go_plugin_example(group: str, binary: str) -> Path:
    """Path of one of go-plugin's example binaries, e.g. ("grpc", "plugin-go-grpc")."""
    key = f"{group}/{binary}"
    if key not in _built:
        gobin = BUILD / "go-plugin-examples" / group
        pkgs = [f"{GO_PLUGIN}/{p}@{GO_PLUGIN_VERSION}" for p in GO_PLUGIN_EXAMPLES[group]]
        env = {**os.environ, "GOBIN": str(gobin), "GOFLAGS": "-buildvcs=false"}
        _locked_build(key, [_go(), "install", *pkgs], cwd=REPO, env=env)
        for pkg in GO_PLUGIN_EXAMPLES[group]:
            _built[f"{group}/{pkg.rsplit('/', 1)[-1]}"] = gobin / pkg.rsplit("/", 1)[-1]
    path = _built[key]
    if not path.exists():
        raise RuntimeError(f"{path} was not built")
    return path


def go_program(package: str) -> Path:
    """Build a main package of the examples-go module (e.g. "./testprogs/kvhost")."""
    if package not in _built:
        out = BUILD / "bin" / package.strip("./").replace("/", "_")
        env = {**os.environ, "GOFLAGS": "-buildvcs=false"}
        _locked_build(package, [_go(), "build", "-o", str(out), package], cwd=EXAMPLES_GO, env=env)
        _built[package] = out
    return _built[package]


def go_install(module: str, version: str) -> Path:
    """A Go program installed unmodified from its module at a tag (``go install mod@version``),
    e.g. hashicorp's terraform-provider-time. Built once into ``.build/go-install/`` and kept
    there across runs (a first build may take minutes); Go's module cache is the usual one."""
    key = f"{module}@{version}"
    if key not in _built:
        gobin = BUILD / "go-install" / key.replace("/", "_")
        binary = gobin / module.rsplit("/", 1)[-1]
        if not binary.exists():
            env = {**os.environ, "GOBIN": str(gobin), "GOFLAGS": "-buildvcs=false"}
            _locked_build(key, [_go(), "install", key], cwd=REPO, env=env)
        _built[key] = binary
    return _built[key]
