"""serve(): run a Python plugin that an unmodified go-plugin host can launch and use.

This file is the single source of the plugin lifecycle; ``_sync/server.py`` is generated from
it by ``scripts/unasync.py``. The steps are go-plugin's ``plugin.Serve``: check the cookie,
negotiate the version, listen, serve go-plugin's internal services next to the user's, print
the handshake line, forward stdio, and exit when the host says so or disappears.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

import grpc

from .._handshake import ENV_DEBUG, HandshakeConfig, Protocol
from .._internal import MAX_MESSAGE_SIZE, ConnInfo, StdioData
from .._reattach import ReattachConfig
from .._runtime import PluginRuntime
from .._runtime import configure_logging as install_hclog_logging
from .._serveconfig import check_magic_cookie, make_serve_config
from .._services import INTERNAL_SERVICES, LazyReflection, health_response, recording_services
from .._transport import TLSPair
from ._backend import IS_ASYNC, ThreadsafeEvent, new_server, stdio_chunks, stop_server
from .broker import GRPCBroker

__all__ = ["serve"]

_log = logging.getLogger("goplugin.server")

# How long in-flight calls get to finish once the host asked us to stop.
_STOP_GRACE = 1.0


async def serve(
    *,
    handshake: HandshakeConfig,
    plugins: Mapping[str, Any] | None = None,
    versioned_plugins: Mapping[int, Mapping[str, Any]] | None = None,
    grpc_options: Iterable[tuple[str, Any]] = (),
    force_tcp: bool = False,
    configure_logging: bool = True,
    log_level: int = logging.DEBUG,
    debug: bool = False,
) -> None:
    """Serve ``plugins`` to the host that launched this process, until it says stop.

    Exits the process with status 1 and go-plugin's "This binary is a plugin" message when no
    host launched it (the magic cookie is missing). With ``configure_logging`` the root logger
    writes hclog JSON to stderr, which the host turns into its own log lines.

    The plugins decide the protocol: gRPC plugins (``grpc_server``) are served over gRPC,
    net/rpc plugins (``netrpc_server``, e.g. :class:`goplugin.netrpc.Plugin`) over go-plugin's
    net/rpc, as Go hosts like examples/basic expect. Sync net/rpc methods run on worker
    threads; under :func:`goplugin.aio.serve` ``async def`` methods run on its event loop.

    ``debug=True`` (or the environment variable GOPLUGIN_DEBUG=1) is for running the plugin by
    hand, e.g. in a debugger: it prints a reattach config for hosts to attach to
    (``PluginClient(reattach=...)``, go-plugin's ``ReattachConfig``, Terraform's
    ``TF_REATTACH_PROVIDERS``), ignores hosts' shutdown requests so it outlives host restarts,
    and serves until interrupted.
    """
    options: list[tuple[str, Any]] = [
        ("grpc.max_send_message_length", MAX_MESSAGE_SIZE),
        ("grpc.max_receive_message_length", MAX_MESSAGE_SIZE),
        *grpc_options,
    ]
    debug = debug or bool(os.environ.get(ENV_DEBUG))
    if not debug:
        check_magic_cookie(handshake, os.environ)
    if configure_logging:
        install_hclog_logging(log_level, for_humans=debug)
    config = make_serve_config(
        handshake=handshake,
        plugins=plugins,
        versioned_plugins=versioned_plugins,
        grpc_options=options,
        force_tcp=force_tcp,
        debug=debug,
    )
    runtime = PluginRuntime(config)
    tls = _tls_for_host(config.client_cert_pem)
    if config.protocol is Protocol.NETRPC:
        from .rpc_server import serve_netrpc

        await serve_netrpc(runtime, tls)
        return
    stop = ThreadsafeEvent()
    server = new_server(config.grpc_options)
    try:
        listener = runtime.listen(server, tls)
        broker = GRPCBroker(
            socket_dir=runtime.socket_dir,
            grpc_options=config.grpc_options,
            tls=tls,
            muxer=runtime.muxer,
        )
        _add_internal_services(server, runtime, stop, broker)
        with recording_services(server) as names:
            for plugin in config.plugins.values():
                plugin.grpc_server(broker, server)
        server.add_generic_rpc_handlers(
            (LazyReflection([*INTERNAL_SERVICES, *names], aio=IS_ASYNC),)
        )
        await server.start()
        runtime.install_stop_triggers(stop.set)
        network, address = listener.network, listener.address
        if debug:
            runtime.announce_debug(
                ReattachConfig(
                    config.protocol, config.version, network, address, os.getpid(), test=True
                )
            )
        else:
            cert = None if tls is None else tls.identity.cert_der
            multiplex = True if runtime.muxer is not None else None
            runtime.announce(
                runtime.handshake(network, address, server_cert=cert, multiplex=multiplex)
            )
        _log.debug("plugin address", extra={"network": network, "address": address})
        await stop.wait()
        _log.debug("plugin shutting down")
        await broker.close()
        await stop_server(server, 0 if runtime.host_gone else _STOP_GRACE)
    finally:
        runtime.cleanup()


def _tls_for_host(client_cert_pem: str | None) -> TLSPair | None:
    """AutoMTLS: a host that sends PLUGIN_CLIENT_CERT gets TLS, always (as from Go plugins)."""
    if not client_cert_pem:
        return None
    from .._mtls import generate_identity, pem_to_der

    return TLSPair(generate_identity(), pem_to_der(client_cert_pem))


def _add_internal_services(
    server: Any, runtime: PluginRuntime, stop: ThreadsafeEvent, broker: GRPCBroker
) -> None:
    """Health, GRPCController, GRPCStdio, GRPCBroker: what a Go host expects of any plugin."""

    async def health_check(request: bytes, context: Any) -> bytes:
        return health_response(request)

    async def health_watch(request: bytes, context: Any) -> AsyncIterator[bytes]:
        yield health_response(request)
        await stop.wait()

    async def shutdown(request: bytes, context: Any) -> bytes:
        if runtime.config.debug:
            _log.info("debug mode: ignoring the host's shutdown request")
        else:
            _log.debug("GRPCController.Shutdown received")
            stop.set()
        return b""

    async def stream_stdio(request: bytes, context: Any) -> AsyncIterator[StdioData]:
        async for channel, data in stdio_chunks(runtime.stdio, context):
            yield StdioData(channel=channel, data=data)  # type: ignore[arg-type]

    server.add_registered_method_handlers(
        "grpc.health.v1.Health",
        {
            "Check": grpc.unary_unary_rpc_method_handler(health_check),
            "Watch": grpc.unary_stream_rpc_method_handler(health_watch),
        },
    )
    server.add_registered_method_handlers(
        "plugin.GRPCController", {"Shutdown": grpc.unary_unary_rpc_method_handler(shutdown)}
    )
    server.add_registered_method_handlers(
        "plugin.GRPCStdio",
        {
            "StreamStdio": grpc.unary_stream_rpc_method_handler(
                stream_stdio, response_serializer=StdioData.SerializeToString
            )
        },
    )
    server.add_registered_method_handlers(
        "plugin.GRPCBroker",
        {
            "StartStream": grpc.stream_stream_rpc_method_handler(
                broker.serve_stream,
                request_deserializer=ConnInfo.FromString,
                response_serializer=ConnInfo.SerializeToString,
            )
        },
    )
