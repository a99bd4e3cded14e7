"""The asyncio flavour of goplugin: the same API, awaited.

The lifecycle code is shared with the sync flavour (generated from this one); RPCs go through
``grpc.aio`` channels. Like :mod:`goplugin`, names are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._async.broker import GRPCBroker
    from ._async.client import PluginClient
    from ._async.server import serve

__all__ = ["GRPCBroker", "PluginClient", "serve"]

_LAZY = {
    "GRPCBroker": "._async.broker",
    "PluginClient": "._async.client",
    "serve": "._async.server",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'goplugin.aio' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, "goplugin"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
