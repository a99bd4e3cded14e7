"""The README's programs and its Go setup, run exactly as a reader copies them.

The Python blocks run against go-plugin's own example plugin and host, unmodified; the Go block
runs in an empty module, which then builds the repository's Go host and plugin
(examples-go/cmd) with the generated KV glue (examples-go/gen/kv), at the Go version the README
states, and runs them against each other and against the README's Python plugin.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from docblocks import README, REPO, block
from gobuild import go_plugin_example

pytestmark = pytest.mark.interop

EXAMPLES_GO = REPO / "examples-go"
GLUE_IMPORT = "github.com/goplugin-py/goplugin/examples-go/gen/kv"


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 120) -> str:
    result = subprocess.run(
        args,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture
def with_gen(tmp_path: Path) -> Path:
    """A fresh directory with the generated Python code of proto/ as gen/."""
    shutil.copytree(REPO / "examples-py" / "gen", tmp_path / "gen")
    return tmp_path


def test_python_host(with_gen: Path) -> None:
    (with_gen / "host.py").write_text(block("python-host"))
    (with_gen / "plugin-go-grpc").symlink_to(go_plugin_example("grpc", "plugin-go-grpc"))
    out = run([sys.executable, "host.py"], with_gen)
    assert out == "world\n\nWritten from plugin-go-grpc\n"


def _plugin_env(directory: Path) -> dict[str, str]:
    (directory / "plugin.py").write_text(block("python-plugin"))
    return {"KV_PROTO": "grpc", "KV_PLUGIN": f"{sys.executable} plugin.py"}


def test_python_plugin_under_go_plugins_own_host(with_gen: Path) -> None:
    host = str(go_plugin_example("grpc", "grpc"))
    env = _plugin_env(with_gen)
    run([host, "put", "hello", "world"], with_gen, env)
    assert run([host, "get", "hello"], with_gen, env) == "world\n"


def _stated_go_version() -> str:
    found = re.search(r"\*\*Go ≥ (1\.\d+)\*\*", README.read_text())
    assert found, "the README states no minimum Go version"
    return found.group(1)


def _go_directive(module: str, version: str, cwd: Path) -> str:
    return run(["go", "list", "-m", "-f", "{{.GoVersion}}", f"{module}@{version}"], cwd).strip()


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


@pytest.mark.timeout(900)  # a cold Go module cache downloads grpc, protobuf and go-plugin
def test_go_setup_builds_a_host_and_a_plugin(tmp_path: Path) -> None:
    minimum = _stated_go_version()
    module = tmp_path / "module"
    module.mkdir()
    # The shared module and build caches (`go env`), but nothing of this repository's module,
    # and the local toolchain only: a version the README gets wrong must fail, not download.
    env = {"GOBIN": str(tmp_path / "bin"), "GOFLAGS": "-buildvcs=false", "GOTOOLCHAIN": "local"}
    run(["sh", "-eux", "-c", block("go-setup")], module, env, timeout=600)

    # The tools the block installs must run on the stated Go version.
    for tool in ("protoc-gen-go", "protoc-gen-go-grpc"):
        info = run(["go", "version", "-m", str(tmp_path / "bin" / tool)], module, env)
        mod = re.search(r"^\s+mod\s+(\S+)\s+(\S+)", info, re.M)
        assert mod, info
        required = _go_directive(mod.group(1), mod.group(2), module)
        assert _minor(required) <= _minor(minimum), (tool, required)

    # The user's code: the generated glue and a host and a plugin that use it.
    path = re.search(r"^module (\S+)$", (module / "go.mod").read_text(), re.M)
    assert path
    shutil.copytree(EXAMPLES_GO / "gen" / "kv", module / "gen" / "kv")
    for command in ("kv-host", "kv-plugin"):
        source = (EXAMPLES_GO / "cmd" / command / "main.go").read_text()
        assert GLUE_IMPORT in source
        target = module / "cmd" / command / "main.go"
        target.parent.mkdir(parents=True)
        target.write_text(source.replace(GLUE_IMPORT, f"{path.group(1)}/gen/kv"))

    # At the stated minimum, the dependencies must not ask for a newer Go (tidy would raise the
    # go line) and the glue must compile with that language version.
    run(["go", "mod", "edit", f"-go={minimum}"], module, env)
    run(["go", "mod", "tidy"], module, env, timeout=600)
    go_line = re.search(r"^go (\S+)$", (module / "go.mod").read_text(), re.M)
    assert go_line, "go.mod has no go line"
    needed = go_line.group(1)
    assert needed in (minimum, f"{minimum}.0"), (
        f"the README says Go {minimum}, modules need {needed}"
    )
    run(["go", "build", "-o", str(tmp_path / "bin") + "/", "./cmd/..."], module, env, timeout=600)

    host, plugin = tmp_path / "bin" / "kv-host", tmp_path / "bin" / "kv-plugin"
    work = tmp_path / "work"
    shutil.copytree(REPO / "examples-py" / "gen", work / "gen")
    run([str(host), str(plugin), "put", "go", "to go"], work)
    assert run([str(host), str(plugin), "get", "go"], work) == "to go\n"
    # The same Go host with the README's Python plugin.
    python_plugin = _plugin_env(work)["KV_PLUGIN"]
    run([str(host), python_plugin, "put", "py", "to python"], work)
    assert run([str(host), python_plugin, "get", "py"], work) == "to python\n"
