"""Developer tasks. `nox -s demo` and `nox -s tests` are the README's two commands.

Every session installs what it needs into its own virtualenv and builds the Go programs it runs
with the Go toolchain (go-plugin's examples from the Go module proxy, unmodified).
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
SDK = ROOT / "sdk-python"
BUILD = ROOT / ".build"
GO_PLUGIN = "github.com/hashicorp/go-plugin"
GO_PLUGIN_VERSION = "v1.8.0"

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "uv|virtualenv"

GRPC_TOOLS = "grpcio-tools==1.85.1"
RUFF = "ruff==0.17.5"
# The opt-in betterproto2 flavour (examples-py/gen_bp2): its runtime, and its compiler, which
# formats what it writes with ruff, pinned so that regenerated files stay byte-identical.
BETTERPROTO2 = "betterproto2==0.10.0"
BETTERPROTO2_CODEGEN = ["betterproto2-compiler==0.10.1", BETTERPROTO2, RUFF]
TEST_DEPS = [
    "pytest>=8",
    "pytest-timeout",
    "pytest-asyncio>=0.23",
    "hypothesis>=6.100",
    "psutil",
    GRPC_TOOLS,
    # The betterproto2 flavour's tests (and the freshness check of examples-py/gen_bp2) need
    # it installed: they fail without it, they never skip.
    *BETTERPROTO2_CODEGEN,
    # tests/unit/test_codegen_protos.py type-checks generated code.
    "mypy==2.4.1",
    "types-protobuf",
    "types-grpcio",
]
LINT_DEPS = [
    RUFF,
    BETTERPROTO2,  # mypy follows the betterproto2 examples into examples-py/gen_bp2
    "mypy==2.4.1",
    "types-protobuf",
    "types-grpcio",
    "pytest",
    "hypothesis",
    "psutil",
]


def _install_sdk(session: nox.Session) -> None:
    session.install("-e", str(SDK))


def _go_install(session: nox.Session, group: str, *packages: str) -> Path:
    """Build go-plugin example packages, unmodified, at the pinned tag into .build/."""
    gobin = BUILD / "go-plugin-examples" / group
    session.run(
        "go",
        "install",
        *(f"{GO_PLUGIN}/{p}@{GO_PLUGIN_VERSION}" for p in packages),
        env={"GOBIN": str(gobin), "GOFLAGS": "-buildvcs=false"},
        external=True,
    )
    return gobin


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite: unit tests and interop against real Go binaries."""
    _install_sdk(session)
    session.install(*TEST_DEPS)
    session.run("go", "version", external=True)  # interop tests need Go: fail early, not skip
    session.run("pytest", *(session.posargs or ["tests"]), env={"CI": os.environ.get("CI", "1")})


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint + format), mypy strict on the package, and generated-code freshness."""
    _install_sdk(session)
    session.install(*LINT_DEPS)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy", "--strict", str(SDK / "src" / "goplugin"))
    # The examples with the generated code they import (gen/ is checked through its stubs);
    examples = sorted((ROOT / "examples-py").glob("*.py"))
    session.run("mypy", "--strict", *map(str, examples))
    session.run(
        "mypy",
        "--strict",
        str(ROOT / "bench"),
        env={"MYPYPATH": os.pathsep.join([str(ROOT / "examples-py"), str(ROOT / "tests")])},
    )
    session.run("python", str(SDK / "scripts" / "unasync.py"), "--check")


@nox.session
def codegen(session: nox.Session) -> None:
    """Regenerate every generated file: the jobs of pyproject.toml's [[tool.goplugin.codegen]]
    (go-plugin's internal protos, the example contracts in Python and Go) and the sync flavour.
    """
    _install_sdk(session)
    session.install(GRPC_TOOLS, *BETTERPROTO2_CODEGEN)
    session.run("python", "-m", "goplugin.codegen", "--config", str(ROOT / "pyproject.toml"))
    session.run("python", str(SDK / "scripts" / "unasync.py"))


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks, not tests: every host/plugin pairing side by side, as ratios to Go<->Go and
    raw grpcio measured in the same run (bench/README.md). `nox -s bench -- --quick` takes
    about a minute. Builds what it runs; prints one table and writes bench/results/*.json.
    """
    _install_sdk(session)
    session.run("go", "version", external=True)
    session.run(
        "python",
        "-m",
        "bench.run",
        *session.posargs,
        env={"PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "examples-py")])},
    )


@nox.session
def demo(session: nox.Session) -> None:
    """Python host <-> go-plugin's own Go examples, built unmodified from its module."""
    _install_sdk(session)
    _go_install(session, "grpc", "examples/grpc", "examples/grpc/plugin-go-grpc")
    _go_install(
        session, "bidirectional", "examples/bidirectional", "examples/bidirectional/plugin-go-grpc"
    )
    _go_install(session, "basic", "examples/basic", "examples/basic/plugin")
    session.run(
        "python",
        str(ROOT / "examples-py" / "demo.py"),
        "--go-examples",
        str(BUILD / "go-plugin-examples"),
        *session.posargs,
        env={"PYTHONPATH": str(ROOT / "examples-py")},
    )
