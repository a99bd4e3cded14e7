"""Plugin side of gRPC server reflection (grpcurl, ``goplugin inspect``): built on first use.

grpcio does not say which services a server has, so the names are recorded while plugins
register them. grpc_reflection's generated code is imported on the first reflection call, not
at plugin start-up: a Go host never calls reflection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .handlers import method_handler

if TYPE_CHECKING:
    import grpc

__all__ = ["LazyReflection", "recording_services"]

_REFLECTION_SERVICE = "grpc.reflection.v1alpha.ServerReflection"


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
