"""Plugin-side helpers for go-plugin's internal services: health, reflection, bookkeeping.

The handlers themselves live in ``_async/server.py`` (and its generated sync twin); what is
flavour-independent is here. Heavy modules (grpc_health's and grpc_reflection's generated
code) are imported on the first call that needs them, not at plugin start-up: a Go host never
calls reflection and only calls health when its application pings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import grpc

from ._internal import HEALTH_SERVICE_NAME

__all__ = ["INTERNAL_SERVICES", "LazyReflection", "health_response", "recording_services"]

INTERNAL_SERVICES = (
    "grpc.health.v1.Health",
    "plugin.GRPCBroker",
    "plugin.GRPCController",
    "plugin.GRPCStdio",
)
_REFLECTION_SERVICE = "grpc.reflection.v1alpha.ServerReflection"


def health_response(request: bytes) -> bytes:
    """SERVING for the whole server ("") and for go-plugin's "plugin"; else SERVICE_UNKNOWN."""
    from grpc_health.v1 import health_pb2

    service = health_pb2.HealthCheckRequest.FromString(request).service
    status = (
        health_pb2.HealthCheckResponse.SERVING
        if service in ("", HEALTH_SERVICE_NAME)
        else health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
    )
    return bytes(health_pb2.HealthCheckResponse(status=status).SerializeToString())


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


class LazyReflection(grpc.GenericRpcHandler):
    """gRPC server reflection, built on the first reflection call (grpcurl, `inspect`)."""

    def __init__(self, service_names: Sequence[str], *, aio: bool) -> None:
        self._names = list(dict.fromkeys([*service_names, _REFLECTION_SERVICE]))
        self._aio = aio
        self._handler: grpc.RpcMethodHandler[Any, Any] | None = None

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        if handler_call_details.method != f"/{_REFLECTION_SERVICE}/ServerReflectionInfo":
            return None
        if self._handler is None:
            self._handler = self._build()
        return self._handler

    def _build(self) -> grpc.RpcMethodHandler[Any, Any]:
        from grpc_reflection.v1alpha import reflection, reflection_pb2

        servicer_class: Callable[..., Any] = (
            reflection.aio.ReflectionServicer if self._aio else reflection.ReflectionServicer
        )
        servicer = servicer_class(self._names)
        return grpc.stream_stream_rpc_method_handler(
            servicer.ServerReflectionInfo,
            request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
            response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
        )
