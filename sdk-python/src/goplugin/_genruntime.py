"""What every generated ``*_goplugin.py`` module calls at run time (``nox -s codegen`` output).

Kept here instead of being copied into each generated file: one implementation to fix, and
generated modules stay declarations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio

from .errors import PluginError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["is_aio_server", "plugin_error", "register_servicer"]


def is_aio_server(server: object) -> bool:
    return isinstance(server, grpc.aio.Server)


def plugin_error(message: str) -> PluginError:
    return PluginError(message)


def register_servicer(
    server: grpc.Server | grpc.aio.Server,
    service: str,
    impl: object,
    base: type[object],
    table: Sequence[tuple[str, str, Any, Any, Any]],
) -> None:
    """Register the methods ``impl`` overrides; the rest stay unregistered (UNIMPLEMENTED).

    ``table`` rows are (attribute, gRPC method name, handler factory, request deserializer,
    response serializer); handlers are registered methods, the fastest dispatch grpcio has.
    """
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for attr, method, make_handler, deserialize, serialize in table:
        fn = getattr(impl, attr, None)
        if fn is None or getattr(type(impl), attr, None) is getattr(base, attr):
            continue
        handlers[method] = make_handler(
            fn, request_deserializer=deserialize, response_serializer=serialize
        )
    server.add_registered_method_handlers(service, handlers)
