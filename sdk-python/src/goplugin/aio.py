"""The asyncio flavour of goplugin: the same API, awaited.

The lifecycle code is shared with the sync flavour (generated from this one); RPCs go through
``grpc.aio`` channels.
"""

from __future__ import annotations

from ._async.client import PluginClient
from ._async.server import serve

__all__ = ["PluginClient", "serve"]
