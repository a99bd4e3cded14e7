"""goplugin: HashiCorp go-plugin's protocol, spoken natively by Python.

Launch Go (or Python) plugins from a Python host with :class:`PluginClient`, or serve a Python
plugin to a Go host with :func:`serve`. The asyncio flavour lives in :mod:`goplugin.aio`.

Names are imported on first use: a plugin process pays only for the serving half, a host only
for the client half (every plugin launch pays its imports).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._handshake import Handshake, HandshakeConfig, Protocol
from ._lazy import lazy_getattr
from .errors import (
    HandshakeError,
    IncompatibleVersionError,
    PluginError,
    PluginExitedError,
    ProcessNotFoundError,
    StartTimeoutError,
)

if TYPE_CHECKING:
    from ._checksum import SecureConfig
    from ._reattach import ReattachConfig
    from ._sync.broker import GRPCBroker
    from ._sync.client import PluginClient
    from ._sync.server import serve

__all__ = [
    "GRPCBroker",
    "Handshake",
    "HandshakeConfig",
    "HandshakeError",
    "IncompatibleVersionError",
    "PluginClient",
    "PluginError",
    "PluginExitedError",
    "ProcessNotFoundError",
    "Protocol",
    "ReattachConfig",
    "SecureConfig",
    "StartTimeoutError",
    "serve",
]

__version__ = "0.1.0"

__getattr__ = lazy_getattr(
    __name__,
    {
        "GRPCBroker": "._sync.broker",
        "PluginClient": "._sync.client",
        "ReattachConfig": "._reattach",
        "SecureConfig": "._checksum",
        "serve": "._sync.server",
    },
    globals(),
)


def __dir__() -> list[str]:
    return sorted(__all__)
