"""net/rpc plugins: go-plugin's original protocol (yamux, gob and Go's net/rpc), both sides.

Host: ``PluginClient`` speaks net/rpc when the plugin announces it; ``dispense(name)`` returns
a :class:`Client` (an :class:`AsyncClient` under :mod:`goplugin.aio`), or what the plugin
set's :class:`Plugin` ``client=`` makes of it::

    greeter = client.dispense("greeter")
    greeter.call("Plugin.Greet", None, gob.STRING)          # "Hello!"

Plugin: declare methods with :func:`method` and serve them with :class:`Plugin`::

    class Greeter:
        @netrpc.method("Greet", args_type=gob.INTERFACE, reply_type=gob.STRING)
        def greet(self, args: None) -> str:
            return "Hello!"

    goplugin.serve(handshake=..., plugins={"greeter": netrpc.Plugin(Greeter())})

Callbacks go through the connection's :class:`MuxBroker` (an :class:`AsyncMuxBroker`, whose
``dial``/``accept`` are awaited, under :mod:`goplugin.aio` on either side), which a
:class:`Plugin` subclass gets in ``netrpc_server(broker)`` / ``netrpc_client(broker, client)``.

Go types are described with :mod:`goplugin.netrpc.gob` (gob needs them: ``int`` is not
``uint``, ``[]byte`` is not ``string``). Names are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .._lazy import lazy_getattr

if TYPE_CHECKING:
    from .._async.rpc_client import AsyncClient
    from .._sync.rpc_client import Client
    from . import gob
    from ._muxbroker import AsyncMuxBroker, MuxBroker
    from ._service import Plugin, method

__all__ = ["AsyncClient", "AsyncMuxBroker", "Client", "MuxBroker", "Plugin", "gob", "method"]

_names = lazy_getattr(
    "goplugin",
    {
        "AsyncClient": "._async.rpc_client",
        "AsyncMuxBroker": ".netrpc._muxbroker",
        "Client": "._sync.rpc_client",
        "MuxBroker": ".netrpc._muxbroker",
        "Plugin": ".netrpc._service",
        "method": ".netrpc._service",
    },
    globals(),
)


def __getattr__(name: str) -> Any:
    if name == "gob":
        return importlib.import_module(".gob", __name__)
    return _names(name)


def __dir__() -> list[str]:
    return sorted(__all__)
