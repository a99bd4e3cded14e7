"""serve(): run a Python plugin that an unmodified go-plugin host can launch and use.

This file is the single source of the plugin lifecycle; ``_sync/server.py`` is generated from
it by ``scripts/unasync.py``. The steps are go-plugin's ``plugin.Serve``: check the cookie,
negotiate the version, listen, serve go-plugin's internal services next to the user's, print
the handshake line, forward stdio, and exit when the host says so or disappears.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from .._backends.aio import IS_ASYNC, ThreadsafeEvent, new_server, stdio_chunks, stop_server
from .._engines import (
    DEFAULT_MAX_CONCURRENT_CALLS,
    choose_engine,
    hold_until_announced,
    release_after_announce,
)
from .._plugin.config import (
    INTERNAL_STREAMS,
    check_magic_cookie,
    make_serve_config,
)
from .._plugin.runtime import PluginRuntime, log_level_from_env, reports_failures
from .._plugin.runtime import configure_logging as install_hclog_logging
from .._protocol.handshake import ENV_DEBUG, HandshakeConfig, Protocol
from .._protocol.internal import INTERNAL_SERVICES, MAX_MESSAGE_SIZE, ConnInfo, StdioData
from .._services.controller import ShutdownHandler
from .._services.handlers import method_handler
from .._services.health import health_response
from .._services.reflection import LazyReflection, recording_services
from .._transport.endpoints import TLSPair
from .broker import GRPCBroker

if TYPE_CHECKING:
    from .._plugin.testmode import ServeTestConfig
    from ..plugin import GRPCPlugin, PluginSet

__all__ = ["serve"]

_log = logging.getLogger("goplugin.server")

# How long in-flight calls get to finish once the host asked us to stop.
_STOP_GRACE = 1.0


@reports_failures
async def serve(
    *,
    handshake: HandshakeConfig,
    plugins: PluginSet | None = None,
    versioned_plugins: Mapping[int, PluginSet] | None = None,
    grpc_options: Iterable[tuple[str, Any]] = (),
    force_tcp: bool = False,
    configure_logging: bool = True,
    log_level: int | None = None,
    debug: bool = False,
    max_concurrent_calls: int = DEFAULT_MAX_CONCURRENT_CALLS,
    provider_address: str | None = None,
    engine: str | None = None,
    test: ServeTestConfig | None = None,
) -> None:
    """Serve ``plugins`` to the host that launched this process, until it says stop.

    Exits the process with status 1 and go-plugin's "This binary is a plugin" message when no
    host launched it (the magic cookie is missing). With ``configure_logging`` the root logger
    writes hclog JSON to stderr, which the host turns into its own log lines, at ``log_level``:
    by default INFO, or what the environment variable GOPLUGIN_LOG_LEVEL says (``trace``,
    ``debug``, ``info``, ``warn``, ``error``). A Go host filters a plugin's lines by its own
    level, which the plugin cannot know: whoever runs the host sets GOPLUGIN_LOG_LEVEL=debug
    (go-plugin passes the host's environment on) to get the plugin's debug lines too. grpc's
    own loggers stay at INFO unless their level was set before ``serve()``. If ``serve()``
    fails (a socket path too long, a plugin whose ``grpc_server`` raises...), it says why in
    one hclog ERROR line before the exception propagates, so the host's log shows the cause.

    The plugins decide the protocol: gRPC plugins (``grpc_server``) are served over gRPC,
    net/rpc plugins (``netrpc_server``, e.g. :class:`goplugin.netrpc.Plugin`) over go-plugin's
    net/rpc, as Go hosts like examples/basic expect. Sync net/rpc methods run on worker
    threads; under :func:`goplugin.aio.serve` ``async def`` methods run on its event loop.

    ``debug=True`` (or the environment variable GOPLUGIN_DEBUG=1) is for running the plugin by
    hand, e.g. in a debugger: it prints a reattach config for hosts to attach to
    (``PluginClient(reattach=...)``, go-plugin's ``ReattachConfig``, Terraform's
    ``TF_REATTACH_PROVIDERS``), ignores hosts' shutdown requests so it outlives host restarts,
    and serves until interrupted. A Terraform provider (or any plugin whose hosts find it by a
    provider address) passes ``provider_address="registry.terraform.io/NAMESPACE/TYPE"``: debug
    mode then also prints, as terraform-plugin-go does, the exact
    ``TF_REATTACH_PROVIDERS='...'`` line to paste into the shell that runs the host.

    ``max_concurrent_calls`` (default 256) is how many of the host's calls run at once: unary
    calls in progress and open streams alike, gRPC or net/rpc. The next one fails at once,
    RESOURCE_EXHAUSTED "Concurrent RPC limit exceeded!" over gRPC, a net/rpc error starting
    "resource exhausted" over net/rpc, instead of waiting for a worker that a long stream may
    hold forever; the host may retry once a call has ended. Sync calls each get a thread of
    their own (started on demand), async ones a task. A bound at all, so that a host opening
    calls without end meets a clear error rather than a plugin that stalls; 256, because that
    is far above what go-plugin hosts keep open and costs nothing until it is used.
    go-plugin's own services never take one of these places: the two streams a host keeps
    open (GRPCStdio, GRPCBroker) have places of their own, net/rpc's Control and Dispenser
    run on the connection's reader, and a host's GRPCController.Shutdown stops the plugin as
    soon as grpcio sees it, before any limit or worker, so ``kill()`` stays graceful however
    busy the plugin is (at the limit the host's Shutdown call itself is answered
    RESOURCE_EXHAUSTED, which hosts ignore).

    ``engine`` picks the gRPC server: ``"pure"`` (goplugin's own HTTP/2 server on one event
    loop; no grpc import, OpenSSL for AutoMTLS) or ``"grpcio"``. The default is the one
    measured fastest for this flavour; the environment variable GOPLUGIN_ENGINE overrides
    both (docs/engines.md).

    ``test`` (go-plugin's ``ServeConfig.Test``) serves inside a test process instead of owning
    one: no cookie check, no handshake line, no logging set-up, stdio, signals and environment
    left alone; the host finds the plugin through ``test.reattach_config`` and ``test.stop()``
    ends serving. :mod:`goplugin.testing` builds its in-process host/plugin pairs on it.

    Args:
        handshake: Must match the host's ``HandshakeConfig``: without the magic cookie in the
            environment the plugin exits (it was not started by a host); ``protocol_version``
            is the app protocol version of ``plugins``.
        plugins: The plugin set for ``handshake.protocol_version``: name -> plugin object (a
            generated ``...Plugin(impl=...)``, or a :class:`goplugin.netrpc.Plugin`). One set
            speaks one protocol: all gRPC or all net/rpc.
        versioned_plugins: Plugin sets per app protocol version (go-plugin's
            ``VersionedPlugins``): the highest version the host also offers is served. May be
            combined with ``plugins``; one of the two is required.
        grpc_options: Extra grpcio server options, after ours (which accept messages as large
            as go-plugin hosts send). Default none.
        force_tcp: Listen on 127.0.0.1 (in the host's ``PLUGIN_MIN_PORT``..``PLUGIN_MAX_PORT``)
            instead of a unix socket. Default False: unix sockets, except on Windows.
        configure_logging: Send stdlib :mod:`logging` to the host as hclog JSON on stderr, so
            a Go host logs each record at its level with its fields. Default True; set False
            to configure logging yourself (records must still reach stderr to be seen).
        log_level: The root logger's level when ``configure_logging`` is set. Default None:
            GOPLUGIN_LOG_LEVEL if set, else ``logging.INFO`` (see above).
        debug: Run by hand for a debugger, as described above. Default False (unless
            GOPLUGIN_DEBUG is set).
        provider_address: In debug mode, the Terraform-style provider address to print a
            ``TF_REATTACH_PROVIDERS`` line for, as described above. Default None: none printed.
        max_concurrent_calls: How many of the host's calls run at once, as described above.
            Default 256.
        engine: The gRPC server, ``"pure"`` or ``"grpcio"``, as described above. Default
            None: the one measured fastest for this flavour (GOPLUGIN_ENGINE overrides it).
        test: Serve inside a test process, as described above. Default None: own the process.
    """
    options: list[tuple[str, Any]] = [
        ("grpc.max_send_message_length", MAX_MESSAGE_SIZE),
        ("grpc.max_receive_message_length", MAX_MESSAGE_SIZE),
        *grpc_options,
    ]
    if test is not None:
        if debug:
            raise ValueError("serve() takes debug=True or test=..., not both")
    else:
        debug = debug or bool(os.environ.get(ENV_DEBUG))
        if not debug:
            check_magic_cookie(handshake, os.environ)
    if configure_logging and test is None:
        level = log_level_from_env() if log_level is None else log_level
        install_hclog_logging(level, for_humans=debug)
    config = make_serve_config(
        handshake=handshake,
        plugins=plugins,
        versioned_plugins=versioned_plugins,
        grpc_options=options,
        force_tcp=force_tcp,
        debug=debug,
        max_concurrent_calls=max_concurrent_calls,
        provider_address=provider_address,
        environ=None if test is None else test.environ,
    )
    runtime = PluginRuntime(config, test)
    tls = _tls_for_host(config.client_cert_pem)
    if config.protocol is Protocol.NETRPC:
        from .rpc_server import serve_netrpc

        await serve_netrpc(runtime, tls)
        return
    engine = choose_engine(engine, is_async=IS_ASYNC)
    stop = ThreadsafeEvent()
    server = new_server(
        config.grpc_options, config.max_concurrent_calls, INTERNAL_STREAMS, engine=engine
    )
    hold_until_announced(server)
    try:
        listener = runtime.listen(server, tls)
        broker = GRPCBroker(
            socket_dir=runtime.socket_dir,
            grpc_options=config.grpc_options,
            tls=tls,
            muxer=runtime.muxer,
            max_concurrent_calls=config.max_concurrent_calls,
            engine=engine,
        )
        _add_internal_services(server, runtime, stop, broker)
        with recording_services(server) as names:
            for plugin in config.plugins.values():  # all gRPC ones: config.protocol says so
                cast("GRPCPlugin[Any, Any]", plugin).grpc_server(broker, server)
        # Generic handlers are asked, in order, only about methods nobody registered: after
        # the user's, these cost the user's calls nothing.
        shutdown = ShutdownHandler(_shutdown_trigger(runtime, stop), aio=IS_ASYNC)
        reflection = LazyReflection(
            [*INTERNAL_SERVICES, *names], aio=IS_ASYNC and engine == "grpcio"
        )
        server.add_generic_rpc_handlers((shutdown, reflection))
        await server.start()
        runtime.install_stop_triggers(stop.set)
        network, address = listener.network, listener.address
        if debug:
            from .._protocol.reattach import ReattachConfig  # debug mode only: launches skip it

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
        release_after_announce(server)
        _log.debug(
            "plugin address", extra={"network": network, "address": address, "engine": engine}
        )
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
    from .._transport.mtls import generate_identity, pem_to_der

    return TLSPair(generate_identity(), pem_to_der(client_cert_pem))


def _shutdown_trigger(runtime: PluginRuntime, stop: ThreadsafeEvent) -> Callable[[], None]:
    """What GRPCController.Shutdown does (on grpcio's polling thread or the event loop)."""

    def shutdown() -> None:
        if runtime.config.debug:
            _log.info("debug mode: ignoring the host's shutdown request")
        else:
            _log.debug("GRPCController.Shutdown received")
            stop.set()

    return shutdown


def _add_internal_services(
    server: Any, runtime: PluginRuntime, stop: ThreadsafeEvent, broker: GRPCBroker
) -> None:
    """Health, GRPCStdio, GRPCBroker: what a Go host expects of any plugin (with
    GRPCController, which :class:`ShutdownHandler` serves)."""

    async def health_check(request: bytes, context: Any) -> bytes:
        response = health_response(request)
        if response is None:
            import grpc  # a status both engines take; only for a service nobody serves

            await context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")  # raises
        return response or b""

    async def health_watch(request: bytes, context: Any) -> AsyncIterator[bytes]:
        yield health_response(request, watch=True) or b""
        await stop.wait()

    async def stream_stdio(request: bytes, context: Any) -> AsyncIterator[StdioData]:
        async for channel, data in stdio_chunks(runtime.stdio, context):
            yield StdioData(channel=channel, data=data)  # type: ignore[arg-type]

    server.add_registered_method_handlers(
        "grpc.health.v1.Health",
        {
            "Check": method_handler(health_check),
            "Watch": method_handler(health_watch, streams="response"),
        },
    )
    server.add_registered_method_handlers(
        "plugin.GRPCStdio",
        {
            "StreamStdio": method_handler(
                stream_stdio, streams="response", serialize=StdioData.SerializeToString
            )
        },
    )
    server.add_registered_method_handlers(
        "plugin.GRPCBroker",
        {
            "StartStream": method_handler(
                broker.serve_stream,
                streams="both",
                deserialize=ConnInfo.FromString,
                serialize=ConnInfo.SerializeToString,
            )
        },
    )
