"""net/rpc plugins: go-plugin's original protocol (yamux, gob and Go's net/rpc), both sides.

Host: ``PluginClient`` speaks net/rpc when the plugin announces it; ``dispense(name)`` returns
a :class:`Client` (an :class:`AsyncClient` under :mod:`goplugin.aio`), or what the plugin
set's :class:`Plugin` ``client=`` makes of it::

    greeter = client.dispense("greeter")
    greeter.call("Plugin.Greet", None, gob.STRING)          # "Hello!"

Plugin: declare methods with :func:`method` and serve them with :class:`Plugin`::

    class Greeter:
        @netrpc.method("Greet", args=gob.INTERFACE, reply=gob.STRING)
        def greet(self, args: None) -> str:
            return "Hello!"

    goplugin.serve(handshake=..., plugins={"greeter": netrpc.Plugin(Greeter())})

Go types are described with :mod:`goplugin.netrpc.gob` (gob needs them: ``int`` is not
``uint``, ``[]byte`` is not ``string``). Names are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._async.rpc_client import AsyncClient
    from .._sync.rpc_client import Client
    from ._muxbroker import MuxBroker
    from ._service import Plugin, method

__all__ = ["AsyncClient", "Client", "MuxBroker", "Plugin", "gob", "method"]

_LAZY = {
    "AsyncClient": "goplugin._async.rpc_client",
    "Client": "goplugin._sync.rpc_client",
    "MuxBroker": "goplugin.netrpc._muxbroker",
    "Plugin": "goplugin.netrpc._service",
    "method": "goplugin.netrpc._service",
}


def __getattr__(name: str) -> Any:
    if name == "gob":
        return importlib.import_module("goplugin.netrpc.gob")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'goplugin.netrpc' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
