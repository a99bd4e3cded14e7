"""The asyncio flavour of goplugin: the same API, awaited.

The lifecycle code is shared with the sync flavour (generated from this one); RPCs go through
``grpc.aio`` channels. Like :mod:`goplugin`, names are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_getattr

if TYPE_CHECKING:
    from ._async.broker import GRPCBroker
    from ._async.client import PluginClient
    from ._async.server import serve

__all__ = ["GRPCBroker", "PluginClient", "serve"]

__getattr__ = lazy_getattr(
    "goplugin",
    {
        "GRPCBroker": "._async.broker",
        "PluginClient": "._async.client",
        "serve": "._async.server",
    },
    globals(),
)


def __dir__() -> list[str]:
    return sorted(__all__)
