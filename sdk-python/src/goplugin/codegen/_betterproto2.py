"""The opt-in betterproto2 message flavour, driver side: run betterproto2-compiler (a protoc
plugin) in the same protoc run as ours, and tidy what it writes.

Only a job with ``python-messages = "betterproto2"`` reaches this module's functions; nothing
here imports betterproto2 itself, and the goplugin runtime never imports this package.

What betterproto2-compiler does that we work around, and why:

* It formats its output by running ``ruff`` from ``PATH``: protoc gets a ``PATH`` whose first
  entry holds the ruff installed beside the compiler, so the output (which ``--check``
  compares byte for byte) does not depend on whatever ruff a shell happens to find.
* It writes an empty ``__init__.py`` for a folder only when none exists *in protoc's working
  directory*, and a ``py.typed``: both are dropped, and the driver writes its own marked
  ``__init__.py`` wherever one is missing, as for the default flavour.
* Its well-known types and message pool are not mypy --strict clean (untyped ``**kwargs``,
  python-dateutil without stubs): those modules get ``# mypy: ignore-errors``, so a strict
  user's own code type-checks without per-project configuration. The classes keep their types.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import shlex
import sys
from pathlib import Path
from typing import Any

__all__ = [
    "COMPILER",
    "COMPILER_SERIES",
    "compiler_args",
    "is_generated",
    "output_files",
    "protoc_env",
]

COMPILER = "betterproto2-compiler"
# Our glue names betterproto2's classes by the compiler's own rule (``_names``), checked
# against this series; another series may name them differently.
COMPILER_SERIES = "0.10."
_PLUGIN_NAME = "python_betterproto2"
# Generation options: messages only. Its clients and servers are grpclib's or untyped; ours
# (``_goplugin_bp2.py``) are grpcio's, for goplugin.
_OPTIONS = "client_generation=none,server_generation=none"
_HEADER_MARK = "# plugin: python-betterproto2"
_POOL = "message_pool.py"
_POOL_START = "import betterproto2"
_NO_MYPY = "# mypy: ignore-errors\n"


class Betterproto2Missing(RuntimeError):
    """betterproto2-compiler (or the ruff it formats with) is not installed in this Python."""


def _check_compiler() -> None:
    try:
        version = importlib.metadata.version(COMPILER)
    except importlib.metadata.PackageNotFoundError:
        raise Betterproto2Missing(
            f"python-messages = betterproto2 needs {COMPILER} in this Python: "
            "pip install 'goplugin[codegen-betterproto2]'"
        )
    if not version.startswith(COMPILER_SERIES):
        raise Betterproto2Missing(
            f"{COMPILER} {version} is installed; goplugin's betterproto2 glue supports "
            f"{COMPILER_SERIES}x: pip install 'goplugin[codegen-betterproto2]'"
        )


def _ruff() -> Path:
    try:
        ruff: Any = importlib.import_module("ruff")
        return Path(ruff.find_ruff_bin())
    except (ImportError, FileNotFoundError):
        raise Betterproto2Missing(f"{COMPILER} formats with ruff, which is not installed")


def compiler_args(tmp: Path, out: Path) -> list[str]:
    """protoc arguments that run betterproto2-compiler, writing into ``out``."""
    _check_compiler()
    launcher = tmp / f"protoc-gen-{_PLUGIN_NAME}"
    launcher.write_text(
        f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -c "
        "'from betterproto2_compiler.plugin.main import main; main()'\n"
    )
    launcher.chmod(0o755)
    return [f"--plugin={launcher}", f"--{_PLUGIN_NAME}_out={_OPTIONS}:{out}"]


def protoc_env(tmp: Path, environ: dict[str, str]) -> dict[str, str]:
    """``environ`` with a ``PATH`` that finds this Python's ruff first."""
    bin_dir = tmp / "ruff-bin"
    bin_dir.mkdir()
    (bin_dir / "ruff").symlink_to(_ruff())
    path = environ.get("PATH", "")
    return {**environ, "PATH": f"{bin_dir}:{path}" if path else str(bin_dir)}


def output_files(out: Path) -> dict[str, str]:
    """betterproto2-compiler's modules, as they are to be written (see the module doc)."""
    files: dict[str, str] = {}
    for path in sorted(out.rglob("*")):
        name = path.relative_to(out).as_posix()
        if not path.is_file() or name.endswith("py.typed"):
            continue
        text = path.read_text()
        if name.endswith("__init__.py") and not text.strip():
            continue
        if name == _POOL or name.startswith("google/"):
            text = _NO_MYPY + text
        files[name] = text
    return files


def is_generated(path: Path) -> bool:
    """Whether ``path`` is a file betterproto2-compiler wrote (so pruning may delete it and a
    run may overwrite it), told by content: its names are ordinary ones."""
    if path.name not in ("__init__.py", _POOL):
        return False
    with path.open() as f:
        head = f.read(400)
    if path.name == _POOL:
        return head.startswith(_NO_MYPY + _POOL_START)
    return _HEADER_MARK in head
