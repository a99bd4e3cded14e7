"""Plugin side of GRPCController (go-plugin's grpc_controller.go): Shutdown stops the plugin.

Registered by ``_async/server.py`` (and its generated sync twin) after the user's services.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._protocol.internal import CONTROLLER_SHUTDOWN
from .handlers import method_handler

if TYPE_CHECKING:
    import grpc

__all__ = ["ShutdownHandler"]


class ShutdownHandler:
    """GRPCController.Shutdown, acted on when grpcio looks the method up.

    grpcio (sync and asyncio alike) looks a generic handler up before it applies
    ``maximum_concurrent_rpcs`` and before it takes a worker: in the sync server on its polling
    thread, in grpc.aio on the event loop. Stopping there means that a host's Shutdown stops
    the plugin even when every worker is busy or the host itself has filled the limit (then
    the call is answered RESOURCE_EXHAUSTED, which hosts ignore: a Go plugin stops its server
    before answering too). Registered as a generic handler, after the user's, so no other
    call ever pays for it.
    """

    def __init__(self, on_shutdown: Callable[[], None], *, aio: bool) -> None:
        self._on_shutdown = on_shutdown
        self._handler: grpc.RpcMethodHandler[Any, Any] = method_handler(  # type: ignore[assignment]
            _answer_async if aio else _answer
        )

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        if handler_call_details.method != CONTROLLER_SHUTDOWN:
            return None
        self._on_shutdown()
        return self._handler


def _answer(request: bytes, context: Any) -> bytes:
    return b""


async def _answer_async(request: bytes, context: Any) -> bytes:
    return b""
