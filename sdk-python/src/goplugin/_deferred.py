"""Two modules that other packages import eagerly run only in processes that use them.

Every plugin launch pays its imports, and two of the largest are imported for nothing:

- ``grpc.aio``: grpcio's own ``grpc/__init__.py`` ends with ``from grpc import aio``, so every
  ``import grpc`` executes all of grpc.aio (about a tenth of ``import grpc``'s instructions)
  although a sync plugin or host never touches it.
- ``google.protobuf.internal.python_message``: protobuf's ``descriptor_pool`` and ``builder``
  import the pure-Python message implementation (and with it ``text_format``, the decoders,
  ``pickle``...) even when the upb backend, which never uses it, is active: about 5 % of a
  plugin's start.

:func:`defer_all` (called by ``goplugin/__init__``, which imports neither grpc nor protobuf)
puts a stand-in module into ``sys.modules`` for each first. The importer binds the stand-in,
and the real module executes into that same module object the first time one of its names is
used (``grpc.aio.server``, ``from grpc.aio import *``, protobuf's pure-Python backend creating a
class): every reference anyone took stays valid. ``import grpc.aio`` and imports of its
submodules behave as before; only the execution moves, or never happens.

This works only when goplugin (or generated code, which imports goplugin first) is imported
before grpc and protobuf; otherwise those run as usual and nothing is deferred.
:func:`executed` answers "is this a grpc.aio server?" without executing grpc.aio: if it never
ran, no grpc.aio object can exist.
"""

from __future__ import annotations

import sys
import threading
import types
from importlib.machinery import PathFinder
from typing import Any

__all__ = ["GRPC_AIO", "PYTHON_MESSAGE", "defer_all", "executed"]

GRPC_AIO = "grpc.aio"
PYTHON_MESSAGE = "google.protobuf.internal.python_message"

#: Serialises the one execution of each real module. Reentrant because a module's own
#: submodules look names up in the package while it executes; those lookups get what a
#: partially initialised module gives (AttributeError). Only _execute touches _loading, and
#: only under the lock.
_lock = threading.RLock()
_loading: dict[str, int] = {}  # module name -> the thread executing it


class _Deferred(types.ModuleType):
    """A module in ``sys.modules`` until first use; becomes a plain module once executed."""

    def __getattr__(self, name: str) -> object:
        # Only missing names get here. Import machinery probes dunders (__spec__, __path__ are
        # set; others such as __wrapped__ are absent on the real module too): not a use.
        if name.startswith("__") and name != "__all__":
            raise AttributeError(name)
        if not _execute(self):
            raise AttributeError(f"partially initialized module {self.__name__!r} has no {name!r}")
        return getattr(self, name)

    def __dir__(self) -> list[str]:
        _execute(self)
        return sorted(vars(self))


def _execute(module: types.ModuleType) -> bool:
    """Run the real code into ``module`` once; False while that is under way in this thread."""
    with _lock:
        if type(module) is not _Deferred:
            return True
        name = module.__name__
        if _loading.get(name) == threading.get_ident():
            return False
        spec = module.__spec__
        assert spec is not None and spec.loader is not None
        _loading[name] = threading.get_ident()
        try:
            spec.loader.exec_module(module)
        finally:
            del _loading[name]
        done: Any = module  # from _Deferred to a plain module: __getattr__ is no longer consulted
        done.__class__ = types.ModuleType
        return True


def _defer(name: str, importer: str) -> None:
    """Put a stand-in for ``name`` in place unless it or the package that imports it eagerly
    (``importer``) already ran.

    The spec is found path by path (PathFinder), which imports nothing, not even the parents.
    """
    if importer in sys.modules or name in sys.modules:
        return
    parts = name.split(".")
    path: list[str] | None = None
    spec = None
    for i in range(len(parts)):
        spec = PathFinder.find_spec(".".join(parts[: i + 1]), path)
        if spec is None or (spec.loader is None and not spec.submodule_search_locations):
            return
        path = list(spec.submodule_search_locations or ())
    if spec is None or spec.loader is None or spec.origin is None:
        return
    module = _Deferred(name)
    # What importlib's module_from_spec sets, so that imports of submodules and tools that
    # read module metadata work without executing it.
    module.__spec__ = spec
    module.__loader__ = spec.loader
    module.__file__ = spec.origin
    if spec.submodule_search_locations is not None:
        module.__path__ = list(spec.submodule_search_locations)
        module.__package__ = name
    else:
        module.__package__ = name.rpartition(".")[0]
    if spec.cached is not None:
        vars(module)["__cached__"] = spec.cached
    sys.modules[name] = module


def defer_all() -> None:
    _defer(GRPC_AIO, "grpc")
    _defer(PYTHON_MESSAGE, "google.protobuf")


def executed(name: str) -> types.ModuleType | None:
    """The module ``name`` if its code ran, or None (never imported, or still deferred)."""
    module = sys.modules.get(name)
    if module is None or type(module) is _Deferred:
        return None
    return module
