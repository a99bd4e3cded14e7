"""serve() for net/rpc plugin sets (go-plugin's rpc_server.go behind ``plugin.Serve``).

Source of truth for both flavours (``_sync/rpc_server.py`` is generated). ``serve()`` has
already checked the cookie, set up logging and negotiated the version; this binds the
listener (TLS under yamux, through a relay, with AutoMTLS), prints the handshake line, and
serves until the host sends ``Control.Quit``, dies, or SIGTERM arrives. Sync ``@netrpc.method``
methods run on worker threads; in the asyncio flavour ``async def`` methods run on its loop.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from .._backends.aio import ThreadsafeEvent, running_loop
from .._protocol.reattach import ReattachConfig
from ..netrpc._rpcserver import RPCServer
from ..netrpc._server import Dispatcher

if TYPE_CHECKING:
    from .._plugin.runtime import PluginRuntime
    from .._transport.endpoints import TLSPair

__all__ = ["serve_netrpc"]

_log = logging.getLogger("goplugin.server")


async def serve_netrpc(runtime: PluginRuntime, tls: TLSPair | None) -> None:
    config = runtime.config
    stop = ThreadsafeEvent()

    def quit_requested() -> None:
        if config.debug:
            _log.info("debug mode: ignoring the host's Control.Quit")
        else:
            _log.debug("Control.Quit received")
            stop.set()

    dispatcher = Dispatcher(running_loop(), config.max_concurrent_calls)
    server = RPCServer(config.plugins, runtime.stdio, dispatcher, on_quit=quit_requested)
    try:
        sock = runtime.listen_socket(tls)
        assert runtime.listener is not None
        network, address = runtime.listener.network, runtime.listener.address
        server.serve(sock)
        runtime.install_stop_triggers(stop.set)
        if config.debug:
            runtime.announce_debug(
                ReattachConfig(
                    config.protocol, config.version, network, address, os.getpid(), test=True
                )
            )
        else:
            cert = None if tls is None else tls.identity.cert_der
            runtime.announce(runtime.handshake(network, address, server_cert=cert))
        _log.debug("plugin address", extra={"network": network, "address": address})
        await stop.wait()
        _log.debug("plugin shutting down")
    finally:
        server.close()
        dispatcher.close()
        runtime.cleanup()
