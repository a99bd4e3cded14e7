"""Plugin-side helpers for go-plugin's internal services: health, reflection, bookkeeping.

The handlers themselves live in ``_async/server.py`` (and its generated sync twin); what is
flavour-independent is here. Heavy modules (grpc_health's and grpc_reflection's generated
code) are imported on the first call that needs them, not at plugin start-up: a Go host never
calls reflection and only calls health when its application pings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import grpc

from ._internal import HEALTH_SERVICE_NAME

__all__ = ["INTERNAL_SERVICES", "LazyReflection", "ServiceRecorder", "health_response"]

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


class ServiceRecorder:
    """Stands in for the gRPC server while plugins register, to learn their service names.

    Reflection needs the names and grpcio does not expose them. Everything else is passed
    through to the real server.
    """

    def __init__(self, server: Any) -> None:
        self._server = server
        self.names: list[str] = []

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        for handler in handlers:
            name = getattr(handler, "service_name", None)
            if callable(name):
                self.names.append(name())
        self._server.add_generic_rpc_handlers(handlers)

    def add_registered_method_handlers(
        self, service_name: str, method_handlers: dict[str, grpc.RpcMethodHandler[Any, Any]]
    ) -> None:
        self.names.append(service_name)
        self._server.add_registered_method_handlers(service_name, method_handlers)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)


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
