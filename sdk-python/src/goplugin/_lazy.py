"""Public names imported on first use (PEP 562), for ``goplugin`` and ``goplugin.aio``.

A plugin process pays for every import at each launch; with this, ``import goplugin`` costs the
handshake and error types only, and ``goplugin.serve`` pulls in the serving half alone.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(
    package: str,
    names: Mapping[str, str],
    namespace: dict[str, Any],
    submodules: Iterable[str] = (),
) -> Callable[[str], Any]:
    """A module ``__getattr__`` resolving ``names`` (name -> relative module) on first use.

    ``submodules`` are subpackages reachable as attributes (``goplugin.aio``) without an import
    statement, loaded only when touched.
    """
    lazy_modules = frozenset(submodules)

    def __getattr__(name: str) -> Any:
        if name in lazy_modules:
            # Importing it also binds it in the namespace: later lookups do not come here.
            return importlib.import_module(f"{namespace['__name__']}.{name}")
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        # Any thread: the import lock serialises the import itself, and threads racing here
        # all store the same object, so the module namespace needs no lock of ours.
        namespace[name] = value  # later lookups are plain module attributes
        return value

    return __getattr__
