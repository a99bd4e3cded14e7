"""What every generated ``*_goplugin.py`` module calls at run time.

The modules are ``python -m goplugin.codegen`` output.

Kept here instead of being copied into each generated file: one implementation to fix, and
generated modules stay declarations. Nothing here imports grpc: on the pure serving engine a
plugin loads no grpc at all to serve, and grpcio's server, when that is the engine, has been
imported by goplugin already. Nor does anything here execute grpc.aio (see _deferred.py): the
asyncio checks ask whether it ever ran before looking at its classes.

The contract with generated code has a number, :data:`CODEGEN_API`: what generated modules
may use of this module (its public names and their signatures, the rows of their method
tables) and what they must provide (``grpc_server``/``grpc_client``, servicer and client
shapes). It is bumped when that changes, and only then: goplugin's own version says nothing
about it. A runtime runs modules written for :data:`OLDEST_CODEGEN_API` up to
:data:`CODEGEN_API`; each module states its number (``GOPLUGIN_CODEGEN_API``) and calls
:func:`require_codegen_api` before it uses anything else of this module, so a mismatch either
way is one clear :class:`~goplugin.errors.CodegenVersionError` at import.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from ._deferred import GRPC_AIO, executed
from ._plugin.servicerguard import check_servicer
from .errors import CodegenVersionError

if TYPE_CHECKING:
    from collections.abc import Sequence

    import grpc
    import grpc.aio
    from typing_extensions import TypeIs

__all__ = [
    "CODEGEN_API",
    "OLDEST_CODEGEN_API",
    "is_aio_channel",
    "require_codegen_api",
    "serve_servicer",
]

#: The generated-code contract this runtime writes and runs (see the module's docstring).
#: 1: modules state their number; plugins register through :func:`serve_servicer`; method
#: table rows are (attribute, rpc, kind name, deserializer, serializer); rpcs named like a
#: generated attribute (broker, channel) are served as ``<name>_``.
CODEGEN_API = 1
#: The oldest contract this runtime still runs.
OLDEST_CODEGEN_API = 1

_REGENERATE = (
    "regenerate it with this goplugin: python -m goplugin.codegen ... (the arguments or "
    "--config that made it)"
)


def require_codegen_api(version: int, module: str) -> None:
    """Refuse ``module`` unless this runtime runs the contract it was generated for.

    Called by each generated module before it uses anything else from here: this function's
    name and signature never change, whatever the contract becomes.
    """
    if OLDEST_CODEGEN_API <= version <= CODEGEN_API:
        return
    from . import __version__

    runs = (
        f"goplugin {__version__} runs generated code of codegen API "
        f"{_api_range(OLDEST_CODEGEN_API, CODEGEN_API)}"
    )
    if version < OLDEST_CODEGEN_API:
        raise CodegenVersionError(
            f"{module} was generated for codegen API {version}, which {runs}; {_REGENERATE}"
        )
    raise CodegenVersionError(
        f"{module} was generated for codegen API {version}, newer than {runs}: upgrade goplugin "
        f"to the version that generated it, or {_REGENERATE}"
    )


def _api_range(oldest: int, newest: int) -> str:
    return str(newest) if oldest == newest else f"{oldest} to {newest}"


def _is_aio_server(server: object) -> bool:
    flavour = getattr(server, "is_async", None)  # goplugin's pure engine says which it is
    if isinstance(flavour, bool):
        return flavour
    aio = executed(GRPC_AIO)  # never ran: then no grpc.aio server exists either
    return aio is not None and isinstance(server, aio.Server)


def is_aio_channel(channel: object) -> TypeIs[grpc.aio.Channel]:
    aio = executed(GRPC_AIO)
    return aio is not None and isinstance(channel, aio.Channel)


def serve_servicer(
    plugin: object,
    impl: object,
    broker: object,
    server: Any,
    *,
    service: str,
    servicers: tuple[type[Any], type[Any]],
    methods: Sequence[tuple[str, str, str, Any, Any]],
) -> None:
    """A generated plugin's ``grpc_server``: check ``impl`` (once, here, not per call), give it
    the broker, and register the methods it overrides.

    ``servicers`` are the service's sync and asyncio base classes; ``methods`` its table.
    """
    base = check_servicer(
        plugin,
        impl,
        service=service,
        servicers=servicers,
        methods=methods,
        serves_async=_is_aio_server(server),
    )
    if broker is not None:  # None: registered by hand, outside serve()
        impl.broker = broker  # type: ignore[attr-defined]
    _register(server, service, impl, base, methods)


def _register(
    server: grpc.Server | grpc.aio.Server,
    service: str,
    impl: object,
    base: type[object],
    table: Sequence[tuple[str, str, str, Any, Any]],
) -> None:
    """Register the methods ``impl`` overrides; the rest stay unregistered (UNIMPLEMENTED).

    ``table`` rows are (attribute, gRPC method name, kind, request deserializer, response
    serializer), the kind being "unary_unary", "unary_stream", "stream_unary" or
    "stream_stream"; handlers are registered methods, the fastest dispatch grpcio has.
    """
    on_pure = isinstance(getattr(server, "is_async", None), bool)
    on_aio = not on_pure and _is_aio_server(server)
    handlers: dict[str, Any] = {}
    for attr, method, kind, deserialize, serialize in table:
        fn = getattr(impl, attr, None)
        if fn is None or getattr(type(impl), attr, None) is getattr(base, attr):
            continue
        if on_pure:
            from ._services.handlers import method_handler

            handlers[method] = method_handler(
                fn, streams=_STREAMS[kind], deserialize=deserialize, serialize=serialize
            )
            continue
        import grpc

        if on_aio and kind in ("unary_unary", "unary_stream"):
            fn, deserialize = _internal_when_malformed(fn, deserialize)
        make_handler = getattr(grpc, f"{kind}_rpc_method_handler")
        handlers[method] = make_handler(
            fn, request_deserializer=deserialize, response_serializer=serialize
        )
    server.add_registered_method_handlers(service, handlers)


_STREAMS = {
    "unary_unary": "",
    "unary_stream": "response",
    "stream_unary": "request",
    "stream_stream": "both",
}
_MALFORMED = object()


def _internal_when_malformed(fn: Any, deserialize: Any) -> tuple[Any, Any]:
    """grpc.aio answers a request it cannot parse with UNKNOWN; grpcio's sync server and the
    pure engine with INTERNAL "Exception deserializing request!". Make grpc.aio agree: a
    malformed request becomes a marker, and the handler aborts on it."""
    import inspect

    import grpc

    def parse(data: bytes) -> Any:
        try:
            return deserialize(data)
        except Exception:
            return _MALFORMED

    async def abort(context: Any) -> None:
        await context.abort(grpc.StatusCode.INTERNAL, "Exception deserializing request!")

    if inspect.isasyncgenfunction(fn):

        async def stream(request: Any, context: Any) -> Any:
            if request is _MALFORMED:
                await abort(context)
            async for response in fn(request, context):
                yield response

        return stream, parse
    if inspect.iscoroutinefunction(fn):

        async def unary(request: Any, context: Any) -> Any:
            if request is _MALFORMED:
                await abort(context)
            return await fn(request, context)

        return unary, parse
    return fn, deserialize


# The names modules generated before the contract had a number imported, which no generated
# module uses any more: importing one means the module predates numbering (codegen API 0).
_UNNUMBERED = frozenset({"is_aio_server", "plugin_error", "register_servicer"})

if not TYPE_CHECKING:  # for mypy, this module has exactly the names defined above

    def __getattr__(name: str) -> Any:
        if name in _UNNUMBERED:
            module = sys._getframe(1).f_globals.get("__name__", "a generated module")
            raise CodegenVersionError(
                f"{module} was generated before goplugin numbered its generated-code contract "
                f"(codegen API 0), and this goplugin runs codegen API "
                f"{_api_range(OLDEST_CODEGEN_API, CODEGEN_API)}: {_REGENERATE}"
            )
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
