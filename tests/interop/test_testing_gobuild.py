"""goplugin.testing.build_go_plugin: one build per state of the sources and Go version, shared by
concurrent processes (pytest-xdist), clear errors. A shim in front of the real `go` counts the
builds."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import EXAMPLE_HANDSHAKE
from gen.kv import kv_goplugin, kv_pb2
from gobuild import REPO

import goplugin.testing
from goplugin.errors import GoBuildError

pytestmark = pytest.mark.interop

MAIN = 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println(%s) }\n'


@pytest.fixture
def module(tmp_path: Path) -> Path:
    """A small Go module with a main package and a local library package."""
    root = tmp_path / "mod"
    (root / "cmd" / "hello").mkdir(parents=True)
    (root / "lib").mkdir()
    (root / "go.mod").write_text("module example.com/hello\n\ngo 1.22\n")
    (root / "lib" / "lib.go").write_text('package lib\n\nconst Greeting = "hello"\n')
    (root / "cmd" / "hello" / "main.go").write_text(
        'package main\n\nimport (\n\t"fmt"\n\n\t"example.com/hello/lib"\n)\n\n'
        "func main() { fmt.Println(lib.Greeting) }\n"
    )
    return root


@pytest.fixture
def go_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put a `go` in front of the real one that logs each invocation, then runs it."""
    real = shutil.which("go")
    assert real is not None, "the Go toolchain is required"
    shim_dir = tmp_path / "shim"
    shim_dir.mkdir()
    log = tmp_path / "go.log"
    shim = shim_dir / "go"
    shim.write_text(f'#!/bin/sh\necho "$1" >> {log}\nexec {real} "$@"\n')
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim_dir}{os.pathsep}{os.environ['PATH']}")
    return log


def builds(log: Path) -> int:
    return log.read_text().split().count("build") if log.exists() else 0


def run(binary: Path) -> str:
    return subprocess.run([binary], capture_output=True, text=True, timeout=30, check=True).stdout


@pytest.mark.timeout(300)
def test_cached_per_state_of_the_sources(module: Path, go_log: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = goplugin.testing.build_go_plugin("./cmd/hello", module_dir=module, cache_dir=cache)
    assert first.name.startswith("hello-") and run(first) == "hello\n"
    again = goplugin.testing.build_go_plugin("./cmd/hello", module_dir=module, cache_dir=cache)
    assert again == first and builds(go_log) == 1
    # A dependency inside the module changes: a new binary.
    (module / "lib" / "lib.go").write_text('package lib\n\nconst Greeting = "bonjour"\n')
    changed = goplugin.testing.build_go_plugin("./cmd/hello", module_dir=module, cache_dir=cache)
    assert changed != first and run(changed) == "bonjour\n" and builds(go_log) == 2
    # Back to the old sources: the old binary, not a third build.
    (module / "lib" / "lib.go").write_text('package lib\n\nconst Greeting = "hello"\n')
    assert (
        goplugin.testing.build_go_plugin("./cmd/hello", module_dir=module, cache_dir=cache) == first
    )
    assert builds(go_log) == 2
    # Other build flags are another binary.
    tagged = goplugin.testing.build_go_plugin(
        "./cmd/hello", module_dir=module, cache_dir=cache, build_flags=["-tags", "x"]
    )
    assert tagged != first and builds(go_log) == 3


@pytest.mark.timeout(300)
def test_concurrent_processes_build_once(module: Path, go_log: Path, tmp_path: Path) -> None:
    """What pytest-xdist workers do: several processes ask for the same binary at once."""
    cache = tmp_path / "cache"
    code = textwrap.dedent(
        f"""
        from goplugin.testing import build_go_plugin
        print(build_go_plugin("./cmd/hello", module_dir={str(module)!r}, cache_dir={str(cache)!r}))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "sdk-python" / "src")}

    def worker(_: int) -> str:
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=240
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    with ThreadPoolExecutor(4) as pool:
        paths = set(pool.map(worker, range(4)))
    assert len(paths) == 1 and builds(go_log) == 1
    assert run(Path(paths.pop())) == "hello\n"
    # Nothing half-written is left next to the binary.
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] == [
        next(p.name for p in cache.iterdir() if p.name.startswith("hello-"))
    ]


def test_errors_carry_gos_own_words(module: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(GoBuildError, match="nope"):
        goplugin.testing.build_go_plugin("./cmd/nope", module_dir=module, cache_dir=cache)
    with pytest.raises(GoBuildError, match="not a main package"):
        goplugin.testing.build_go_plugin("./lib", module_dir=module, cache_dir=cache)
    (module / "cmd" / "hello" / "main.go").write_text(MAIN % "undefinedThing")
    with pytest.raises(GoBuildError, match="undefined: undefinedThing"):
        goplugin.testing.build_go_plugin("./cmd/hello", module_dir=module, cache_dir=cache)


def test_no_go_on_path(module: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(GoBuildError, match="go is not on PATH"):
        goplugin.testing.build_go_plugin("./cmd/hello", module_dir=module)


@pytest.mark.timeout(300)
def test_a_built_plugin_serves(go_build_cache: Path, workdir: Path) -> None:
    binary = goplugin.testing.build_go_plugin(
        "./cmd/kv-plugin", module_dir=REPO / "examples-go", cache_dir=go_build_cache
    )
    with goplugin.testing.launch(
        binary, handshake=EXAMPLE_HANDSHAKE, plugins={"kv": kv_goplugin.KVPlugin()}, dispense="kv"
    ) as kv:
        kv.put(kv_pb2.PutRequest(key="k", value=b"v"), timeout=10)
        assert kv.get(kv_pb2.GetRequest(key="k"), timeout=10).value == b"v"
