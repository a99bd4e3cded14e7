"""Public names imported on first use (PEP 562), for ``goplugin`` and ``goplugin.aio``.

A plugin process pays for every import at each launch; with this, ``import goplugin`` costs the
handshake and error types only, and ``goplugin.serve`` pulls in the serving half alone.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(
    package: str, names: Mapping[str, str], namespace: dict[str, Any]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` resolving ``names`` (name -> relative module) on first use."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value  # later lookups are plain module attributes
        return value

    return __getattr__
