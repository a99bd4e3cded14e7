"""goplugin: HashiCorp go-plugin's protocol, spoken natively by Python.

Launch Go (or Python) plugins from a Python host with :class:`PluginClient`, or serve a Python
plugin to a Go host with :func:`serve`. The asyncio flavour lives in :mod:`goplugin.aio`,
net/rpc plugins in :mod:`goplugin.netrpc`; both are attributes of this package, no import
statement needed.

Naming rule: :mod:`goplugin` and :mod:`goplugin.aio` export the same names with the same
meaning (``goplugin.PluginClient`` / ``goplugin.aio.PluginClient``, ``serve``, ``Supervisor``,
``GRPCBroker``, the errors, ``HandshakeConfig``, ...); the asyncio one awaits what may wait.
Only modules that hold both flavours side by side (generated ``*_goplugin.py`` modules,
:mod:`goplugin.netrpc`) prefix the asyncio twin with ``Async`` (``AsyncKVClient``,
``netrpc.AsyncClient``, ``netrpc.AsyncMuxBroker``). ``tests/unit/test_public_api.py``
checks it.

Names are imported on first use: a plugin process pays only for the serving half, a host only
for the client half (every plugin launch pays its imports).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _deferred
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
    from . import aio as aio
    from . import netrpc as netrpc
    from ._host.checksum import SecureConfig
    from ._host.supervision import (
        RestartPolicy,
        SupervisorEvent,
        SupervisorEventKind,
        SupervisorState,
    )
    from ._protocol.reattach import ReattachConfig
    from ._sync.broker import GRPCBroker
    from ._sync.client import PluginClient
    from ._sync.server import serve
    from ._sync.supervisor import Supervisor

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

# The one place the version is written: the package metadata takes it from here (hatch's
# version source in sdk-python/pyproject.toml), so importing goplugin reads no metadata.
__version__ = "0.1.0"

# Nothing above imports grpc or protobuf: from here on, sync plugins and hosts never execute
# grpc.aio, and protobuf's pure-Python message backend runs only if it is the one in use.
_deferred.defer_all()

_SUBMODULES = ("aio", "netrpc")

__getattr__ = lazy_getattr(
    __name__,
    {
        "GRPCBroker": "._sync.broker",
        "PluginClient": "._sync.client",
        "ReattachConfig": "._protocol.reattach",
        "RestartPolicy": "._host.supervision",
        "SecureConfig": "._host.checksum",
        "Supervisor": "._sync.supervisor",
        "SupervisorEvent": "._host.supervision",
        "SupervisorEventKind": "._host.supervision",
        "SupervisorState": "._host.supervision",
        "serve": "._sync.server",
    },
    globals(),
    submodules=_SUBMODULES,
)


def __dir__() -> list[str]:
    return sorted([*__all__, *_SUBMODULES])
