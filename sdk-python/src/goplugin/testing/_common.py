"""Flavour-independent parts of goplugin.testing: Python plugin command lines, the environment
an in-process plugin sees, and the host's plugin sets of an in-process pair."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from .._protocol.handshake import HandshakeConfig, host_environment

__all__ = ["in_process_environ", "python_command", "python_environment"]


def python_command(target: str | os.PathLike[str], *args: str) -> list[str]:
    """The command line that runs a Python plugin with this interpreter.

    ``target`` is a script (``plugin.py``, or any path to a file) or a module name
    (``my_package.plugin``, run with ``-m``).
    """
    path = os.fspath(target)
    if path.endswith(".py") or os.sep in path or os.path.isfile(path):
        return [sys.executable, path, *args]
    return [sys.executable, "-m", path, *args]


def python_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` plus a PYTHONPATH that lets the plugin import what this process imports.

    A test run adds to ``sys.path`` (the rootdir, conftest folders, ``pythonpath`` in the pytest
    configuration) what a plugin started as a new process would not find; the plugin is meant
    to see the modules the test sees, generated code included.
    """
    result = dict(env or {})
    entries = [p for p in sys.path if p]
    inherited = result.get("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
    if inherited:
        entries.append(inherited)
    result["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(entries))
    return result


def in_process_environ(
    handshake: HandshakeConfig,
    plugins: Mapping[str, Any] | None,
    versioned_plugins: Mapping[int, Mapping[str, Any]] | None,
) -> dict[str, str]:
    """What a host with these plugin sets would put in its plugin's environment (the versions
    it offers, its cookie and port range), for ``serve(test=...)``."""
    versions = set(versioned_plugins or {})
    if plugins is not None or not versions:
        versions.add(handshake.protocol_version)
    return host_environment(handshake, versions, base={})
