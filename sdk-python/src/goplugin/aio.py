"""The asyncio flavour of goplugin: the same API, awaited.

Naming rule (both flavours): :mod:`goplugin` and :mod:`goplugin.aio` export the same names
with the same meaning (``goplugin.PluginClient`` / ``goplugin.aio.PluginClient``, ``serve``,
``Supervisor``, ``GRPCBroker``, the errors and configuration types); what may wait is a
coroutine here and nothing here blocks the event loop or hands out a thread's future. Only
modules that hold both flavours side by side (generated ``*_goplugin.py`` modules,
:mod:`goplugin.netrpc`) prefix the asyncio twin with ``Async`` (``AsyncKVClient``,
``netrpc.AsyncClient``, ``netrpc.AsyncMuxBroker``).

The lifecycle code is shared with the sync flavour (generated from this one); RPCs go through
``grpc.aio`` channels. Like :mod:`goplugin`, names are imported on first use; the flavourless
ones (errors, :class:`~goplugin.HandshakeConfig`, ...) are goplugin's own objects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_getattr
from ._protocol.handshake import Handshake, HandshakeConfig, Protocol
from .errors import (
    ChecksumError,
    ClientClosedError,
    CodegenVersionError,
    ConnectionClosedError,
    GobEncodeError,
    GobError,
    GobTypeError,
    GoBuildError,
    HandshakeError,
    IncompatibleVersionError,
    LaunchError,
    MagicCookieError,
    NotStartedError,
    PluginError,
    PluginExitedError,
    PluginGaveUpError,
    PluginRestartingError,
    PluginSetError,
    PluginUnreachableError,
    ProcessNotFoundError,
    ProtocolError,
    RPCServerError,
    RPCTimeoutError,
    ServicerError,
    SocketPathTooLongError,
    StartTimeoutError,
    TLSError,
    UnsupportedProtocolError,
)

if TYPE_CHECKING:
    from ._async.broker import GRPCBroker
    from ._async.client import PluginClient
    from ._async.server import serve
    from ._async.supervisor import Supervisor
    from ._host.checksum import SecureConfig
    from ._host.supervision import (
        RestartPolicy,
        SupervisorEvent,
        SupervisorEventKind,
        SupervisorState,
    )
    from ._protocol.reattach import ReattachConfig

__all__ = [
    "ChecksumError",
    "ClientClosedError",
    "CodegenVersionError",
    "ConnectionClosedError",
    "GRPCBroker",
    "GoBuildError",
    "GobEncodeError",
    "GobError",
    "GobTypeError",
    "Handshake",
    "HandshakeConfig",
    "HandshakeError",
    "IncompatibleVersionError",
    "LaunchError",
    "MagicCookieError",
    "NotStartedError",
    "PluginClient",
    "PluginError",
    "PluginExitedError",
    "PluginGaveUpError",
    "PluginRestartingError",
    "PluginSetError",
    "PluginUnreachableError",
    "ProcessNotFoundError",
    "Protocol",
    "ProtocolError",
    "RPCServerError",
    "RPCTimeoutError",
    "ReattachConfig",
    "RestartPolicy",
    "SecureConfig",
    "ServicerError",
    "SocketPathTooLongError",
    "StartTimeoutError",
    "Supervisor",
    "SupervisorEvent",
    "SupervisorEventKind",
    "SupervisorState",
    "TLSError",
    "UnsupportedProtocolError",
    "serve",
]

__getattr__ = lazy_getattr(
    "goplugin",
    {
        "GRPCBroker": "._async.broker",
        "PluginClient": "._async.client",
        "ReattachConfig": "._protocol.reattach",
        "RestartPolicy": "._host.supervision",
        "SecureConfig": "._host.checksum",
        "Supervisor": "._async.supervisor",
        "SupervisorEvent": "._host.supervision",
        "SupervisorEventKind": "._host.supervision",
        "SupervisorState": "._host.supervision",
        "serve": "._async.server",
    },
    globals(),
)


def __dir__() -> list[str]:
    return sorted(__all__)
