"""goplugin: HashiCorp go-plugin's protocol, spoken natively by Python.

Launch Go (or Python) plugins from a Python host with :class:`PluginClient`, or serve a Python
plugin to a Go host with :func:`serve`. The asyncio flavour lives in :mod:`goplugin.aio`.
"""

from __future__ import annotations

from ._handshake import Handshake, HandshakeConfig, Protocol
from ._sync.client import PluginClient
from ._sync.server import serve
from .errors import (
    HandshakeError,
    IncompatibleVersionError,
    PluginError,
    PluginExitedError,
    StartTimeoutError,
)

__all__ = [
    "Handshake",
    "HandshakeConfig",
    "HandshakeError",
    "IncompatibleVersionError",
    "PluginClient",
    "PluginError",
    "PluginExitedError",
    "Protocol",
    "StartTimeoutError",
    "serve",
]

__version__ = "0.1.0"
