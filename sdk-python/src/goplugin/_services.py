"""Plugin-side helpers for go-plugin's internal services: health, reflection, bookkeeping.

The handlers themselves live in ``_async/server.py`` (and its generated sync twin); what is
flavour-independent is here. Heavy modules (grpc_health's and grpc_reflection's generated
code) are imported on the first call that needs them, not at plugin start-up: a Go host never
calls reflection and only calls health when its application pings.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple

from ._internal import HEALTH_SERVICE_NAME

if TYPE_CHECKING:
    import grpc

__all__ = [
    "INTERNAL_SERVICES",
    "LazyReflection",
    "MethodHandler",
    "ShutdownHandler",
    "health_response",
    "method_handler",
    "recording_services",
]

INTERNAL_SERVICES = (
    "grpc.health.v1.Health",
    "plugin.GRPCBroker",
    "plugin.GRPCController",
    "plugin.GRPCStdio",
)
_REFLECTION_SERVICE = "grpc.reflection.v1alpha.ServerReflection"
_SHUTDOWN = "/plugin.GRPCController/Shutdown"


def health_response(request: bytes, *, watch: bool = False) -> bytes | None:
    """SERVING for the whole server ("") and for go-plugin's "plugin", like the grpc-go health
    server a Go plugin registers. Any other service: None for Check, which must then fail with
    NOT_FOUND ("unknown service"), and SERVICE_UNKNOWN for Watch."""
    from grpc_health.v1 import health_pb2

    service = health_pb2.HealthCheckRequest.FromString(request).service
    if service in ("", HEALTH_SERVICE_NAME):
        status = health_pb2.HealthCheckResponse.SERVING
    elif watch:
        status = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
    else:
        return None
    return bytes(health_pb2.HealthCheckResponse(status=status).SerializeToString())


class MethodHandler(NamedTuple):
    """grpcio's ``RpcMethodHandler`` fields, without importing grpc: both engines read these
    attributes and nothing else, so the internal services register the same way on either."""

    request_streaming: bool
    response_streaming: bool
    request_deserializer: Callable[[bytes], Any] | None
    response_serializer: Callable[[Any], bytes] | None
    unary_unary: Callable[..., Any] | None
    unary_stream: Callable[..., Any] | None
    stream_unary: Callable[..., Any] | None
    stream_stream: Callable[..., Any] | None


def method_handler(
    fn: Callable[..., Any],
    *,
    streams: str = "",
    deserialize: Callable[[bytes], Any] | None = None,
    serialize: Callable[[Any], bytes] | None = None,
) -> MethodHandler:
    """``streams`` says which side streams: "", "request", "response" or "both"."""
    request = streams in ("request", "both")
    response = streams in ("response", "both")
    return MethodHandler(
        request,
        response,
        deserialize,
        serialize,
        fn if not (request or response) else None,
        fn if response and not request else None,
        fn if request and not response else None,
        fn if request and response else None,
    )


@contextmanager
def recording_services(server: Any) -> Iterator[list[str]]:
    """Learn the names of the services plugins register on ``server`` (reflection needs them
    and grpcio does not expose them).

    The server's two registration methods are shadowed on the instance for the duration, so
    plugins still get the real ``grpc.Server``/``grpc.aio.Server`` (isinstance checks hold).
    """
    names: list[str] = []
    add_generic = server.add_generic_rpc_handlers
    add_registered = server.add_registered_method_handlers

    def generic(handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        for handler in handlers:
            name = getattr(handler, "service_name", None)
            if callable(name):
                names.append(name())
        add_generic(handlers)

    def registered(service: str, handlers: dict[str, grpc.RpcMethodHandler[Any, Any]]) -> None:
        names.append(service)
        add_registered(service, handlers)

    server.add_generic_rpc_handlers = generic
    server.add_registered_method_handlers = registered
    try:
        yield names
    finally:
        del server.add_generic_rpc_handlers
        del server.add_registered_method_handlers


class LazyReflection:
    """gRPC server reflection, built on the first reflection call (grpcurl, `inspect`)."""

    def __init__(self, service_names: Sequence[str], *, aio: bool) -> None:
        self._names = list(dict.fromkeys([*service_names, _REFLECTION_SERVICE]))
        self._aio = aio
        # grpcio asks from any of its threads: read without a lock once built; built once,
        # under _lock (it imports grpc_reflection and builds a servicer).
        self._handler: grpc.RpcMethodHandler[Any, Any] | None = None
        self._lock = threading.Lock()

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        if handler_call_details.method != f"/{_REFLECTION_SERVICE}/ServerReflectionInfo":
            return None
        handler = self._handler
        if handler is None:
            with self._lock:
                if self._handler is None:
                    self._handler = self._build()
                handler = self._handler
        return handler

    def _build(self) -> grpc.RpcMethodHandler[Any, Any]:
        from grpc_reflection.v1alpha import reflection, reflection_pb2

        servicer_class: Callable[..., Any] = (
            reflection.aio.ReflectionServicer if self._aio else reflection.ReflectionServicer
        )
        servicer = servicer_class(self._names)
        return method_handler(  # type: ignore[return-value]
            servicer.ServerReflectionInfo,
            streams="both",
            deserialize=reflection_pb2.ServerReflectionRequest.FromString,
            serialize=reflection_pb2.ServerReflectionResponse.SerializeToString,
        )


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
        if handler_call_details.method != _SHUTDOWN:
            return None
        self._on_shutdown()
        return self._handler


def _answer(request: bytes, context: Any) -> bytes:
    return b""


async def _answer_async(request: bytes, context: Any) -> bytes:
    return b""
