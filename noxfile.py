"""Developer tasks. `nox -s tests` and `nox -s demo` are the README's two commands."""

from __future__ import annotations

import os
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
SDK = ROOT / "sdk-python"
nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "uv|virtualenv"

PYTHON = "3.11"
GRPC_TOOLS = "grpcio-tools==1.85.1"
TEST_DEPS = [
    "pytest>=8",
    "pytest-timeout",
    "pytest-asyncio>=0.23",
    "hypothesis>=6.100",
    "psutil",
    GRPC_TOOLS,
]
LINT_DEPS = [
    "ruff==0.17.5",
    "mypy==2.4.1",
    "types-protobuf",
    "types-grpcio",
    "pytest",
    "hypothesis",
]


def _install_sdk(session: nox.Session) -> None:
    session.install("-e", str(SDK))


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole test suite: unit tests and interop against real Go binaries."""
    _install_sdk(session)
    session.install(*TEST_DEPS)
    session.env.setdefault("CI", os.environ.get("CI", ""))
    session.run("pytest", *(session.posargs or ["tests"]))


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff (lint + format), mypy strict on the package, and generated-code freshness."""
    _install_sdk(session)
    session.install(*LINT_DEPS)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy", "--strict", str(SDK / "src" / "goplugin"))
    session.run("python", str(SDK / "scripts" / "unasync.py"), "--check")


@nox.session(python=PYTHON)
def codegen(session: nox.Session) -> None:
    """Regenerate every generated file from proto/ and from the asyncio sources."""
    _install_sdk(session)
    session.install(GRPC_TOOLS)
    session.run(
        "python",
        "-m",
        "goplugin.codegen.internal",
        str(ROOT / "proto"),
        str(SDK / "src" / "goplugin" / "_proto"),
    )
    session.run("python", str(SDK / "scripts" / "unasync.py"))


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """A Python host drives go-plugin's own examples/grpc Go plugin, built from its module."""
    _install_sdk(session)
    session.run("python", str(ROOT / "examples-py" / "demo.py"), *session.posargs)
