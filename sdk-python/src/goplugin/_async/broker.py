"""GRPCBroker: extra gRPC servers between host and plugin, for callbacks both ways.

Source of truth for both flavours (``_sync/broker.py`` is generated). One broker per
connection on each side; they talk over ``plugin.GRPCBroker/StartStream`` (the host opens it,
the plugin serves it). ``accept_and_serve(id, ...)`` runs a gRPC server on a new private socket
and tells the other side where it is; the other side's ``dial(id)`` waits up to five seconds
for that address and connects. Ids are per side: the side that accepts picks one with
``next_id()`` and sends it to the other side inside an application message.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from .._backends.aio import (
    Cancelled,
    Queue,
    Task,
    loop_caller,
    new_server,
    open_channel,
    run_blocking,
    start_task,
    stop_server,
    wait_future,
)
from .._engines import DEFAULT_MAX_CONCURRENT_CALLS
from .._protocol.internal import BROKER_START_STREAM, ConnInfo
from .._services.broker import PENDING_TTL, BrokerState
from .._transport.endpoints import Endpoint, Listener, TLSPair, dial, listen
from ..errors import PluginError

if TYPE_CHECKING:
    from .._backends.aio import Channel, Server
    from .._transport.grpcmux import GRPCMuxer
    from ..plugin import GRPCPlugin

    #: What ``accept_and_serve`` puts on its server: a plugin object, a function that
    #: registers on the server, or several of those.
    Services: TypeAlias = (
        "GRPCPlugin[Any, Any] | Callable[[Server], object]"
        " | Iterable[GRPCPlugin[Any, Any] | Callable[[Server], object]]"
    )

__all__ = ["GRPCBroker"]

_log = logging.getLogger("goplugin.broker")


class GRPCBroker:
    """go-plugin's ``GRPCBroker``, for one connection."""

    def __init__(
        self,
        *,
        socket_dir: str,
        grpc_options: list[tuple[str, Any]],
        tls: TLSPair | None = None,
        muxer: GRPCMuxer | None = None,
        wrap_channel: Callable[[Channel], Channel] | None = None,
        max_concurrent_calls: int = DEFAULT_MAX_CONCURRENT_CALLS,
        engine: str = "grpcio",
    ) -> None:
        self._ids = itertools.count(1)  # next() on it is atomic: any thread
        self._max_calls = max_concurrent_calls  # for each server accept_and_serve starts
        # Guards swapping the stream, and the lists of servers and relays to stop, against
        # close(), which may run on another thread (in the sync flavour, so may everything).
        self._swap = threading.Lock()
        self._closed = False
        self._streams = 0  # StartStreams served so far (plugin side)
        self._state = BrokerState()
        self._outgoing: Queue[ConnInfo | None] = Queue()
        self._socket_dir = socket_dir
        self._options = grpc_options
        self._wrap_channel = wrap_channel
        self._tls = tls
        self._muxer = muxer
        self._engine = engine  # brokered servers run on the plugin's serving engine
        self._call_soon = loop_caller()
        self._knocking = threading.Lock()  # one knock at a time, like Go's dialMutex
        self._servers: list[tuple[Any, Listener]] = []
        self._endpoints: list[Endpoint] = []
        self._call: Any = None
        self._reader: Task | None = None

    def next_id(self) -> int:
        """A new id for ``accept_and_serve`` (1, 2, 3, ... on this side)."""
        return next(self._ids)

    # -- the stream ------------------------------------------------------------------------

    def open_stream(self, channel: Channel) -> None:
        """Host side: open StartStream on the plugin connection and keep it for its life."""
        start = channel.stream_stream(
            BROKER_START_STREAM, ConnInfo.SerializeToString, ConnInfo.FromString
        )
        self._call = start(self._requests())
        self._reader = start_task(self._receive, self._call, self._state)

    async def _requests(self) -> AsyncIterator[ConnInfo]:
        """Host side: what StartStream sends. When kill() ends the call, grpc.aio cancels the
        task that consumes this: it ends quietly then, instead of leaving a CancelledError
        traceback in grpc's log at every kill."""
        try:
            async for message in self._outgoing_messages():
                yield message
        except Cancelled:
            return

    async def serve_stream(self, requests: Any, context: Any) -> AsyncIterator[ConnInfo]:
        """Plugin side: the StartStream handler.

        The first stream takes over what was queued before it arrived (a Go host opens it
        concurrently with its first call). A plugin in debug mode sees one stream per host
        that attaches: the newest one wins, the previous one is ended, and accepted ids stay
        knockable (a Go plugin's broker dies with its first stream).
        """
        with self._swap:
            if self._closed:
                return  # a host that connects while we stop gets an empty stream
            if self._streams:
                self._outgoing.put_nowait(None)
                self._outgoing = Queue()
                self._state = self._state.successor()
            self._streams += 1
        state = self._state
        self._reader = start_task(self._receive, requests, state)
        try:
            async for message in self._outgoing_messages():
                yield message
        finally:
            # Our side ends the stream (close(), or a newer host's stream took over): nothing
            # more can arrive on it, and the reader's failing read is how the stream ends.
            state.close(PluginError("the broker stream is closed"))

    async def _outgoing_messages(self) -> AsyncIterator[ConnInfo]:
        outgoing = self._outgoing
        while True:
            message = await outgoing.get()
            if message is None:
                return
            yield message

    async def _receive(self, messages: Any, state: BrokerState) -> None:
        try:
            async for message in messages:
                state.receive(message)
        except Exception as exc:
            _log_receive_failure(exc, state)
        finally:
            state.close(PluginError("the broker stream is closed"))

    def _send(self, message: ConnInfo) -> None:
        if self._state.closed:
            raise PluginError("the broker stream is closed")
        self._outgoing.put_nowait(message)

    # -- brokered connections ----------------------------------------------------------------

    async def accept_and_serve(self, service_id: int, services: Services) -> Server:
        """Serve gRPC services under ``service_id`` for the other side to ``dial``.

        ``services`` puts the services on the new server: a generated plugin object (e.g.
        ``AddHelperPlugin(impl)``, anything with ``grpc_server(broker, server)``), a callable
        taking the server (e.g. ``lambda s: add_AddHelperServicer_to_server(impl, s)``), or a
        list of those. Returns the gRPC server; it is stopped when the broker closes, or
        earlier with its ``stop()``.
        """
        server: Server = new_server(self._options, self._max_calls, engine=self._engine)
        single = callable(services) or hasattr(services, "grpc_server")
        setups: Iterable[Any] = [services] if single else cast("Iterable[Any]", services)
        for setup in setups:
            register = getattr(setup, "grpc_server", None)
            if register is not None:
                register(self, server)
            else:
                setup(server)
        listener = listen(server, network="unix", socket_dir=self._socket_dir, tls=self._tls)
        await server.start()
        with self._swap:
            closed = self._closed
            if not closed:
                self._servers.append((server, listener))
        if closed:  # close() has run meanwhile: it would never stop this one
            await stop_server(server, 0)
            listener.close()
            raise PluginError("the broker is closed")
        if self._muxer is not None:
            # Multiplexed: no address to announce; the peer knocks, then opens a stream.
            self._muxer.serve(service_id, listener.address)
            self._state.on_knock(service_id, self._answer_knock)
        else:
            self._send(
                ConnInfo(service_id=service_id, network=listener.network, address=listener.address)
            )
        return server

    async def dial(self, service_id: int, timeout: float = PENDING_TTL) -> Channel:
        """A channel to the server the other side serves under ``service_id``.

        The caller owns the channel and closes it when done, as with Go's ``Dial``.
        """
        if self._muxer is not None:
            path = self._muxer.bridge(knock=lambda: self._knock(service_id, timeout))
            return self._channel_to(dial("unix", path, self._tls, socket_dir=self._socket_dir))
        pending = self._state.expect(service_id)
        try:
            info = await wait_future(pending, timeout)
        except TimeoutError:
            self._state.forget(service_id, pending)
            raise PluginError(
                f"timeout waiting for connection info for broker id {service_id}"
            ) from None
        if info.network not in ("unix", "tcp"):
            raise PluginError(f"unknown address type: {info.network}:{info.address}")
        return self._channel_to(
            dial(info.network, info.address, self._tls, socket_dir=self._socket_dir)
        )

    def _channel_to(self, endpoint: Endpoint) -> Channel:
        if endpoint.closes_something:  # a TLS relay: stop it with the broker
            with self._swap:
                closed = self._closed
                if not closed:
                    self._endpoints.append(endpoint)
            if closed:
                endpoint.close()
                raise PluginError("the broker is closed")
        channel = open_channel(endpoint, self._options)
        return channel if self._wrap_channel is None else self._wrap_channel(channel)

    # -- multiplexed mode: knocks ------------------------------------------------------------

    def _answer_knock(self, knock: ConnInfo) -> None:
        """The peer wants a stream to a server we accept on: let the muxer expect it."""
        assert self._muxer is not None
        error = self._muxer.accept_knock(knock.service_id)
        ack = ConnInfo.Knock(knock=True, ack=True, error=error)
        self._call_soon(self._send, ConnInfo(service_id=knock.service_id, knock=ack))

    def _knock(self, service_id: int, timeout: float) -> None:
        """Ask the peer to route our next stream to its server ``service_id`` (runs on a
        bridge thread, once per gRPC connection grpcio opens)."""
        with self._knocking:
            if self._state.closed:
                raise PluginError("the broker stream is closed")
            pending = self._state.expect(service_id)
            knock = ConnInfo(service_id=service_id, knock=ConnInfo.Knock(knock=True))
            self._call_soon(self._send, knock)
            try:
                reply = pending.result(timeout)
            except concurrent.futures.TimeoutError:  # not the builtin one before Python 3.11
                self._state.forget(service_id, pending)
                raise PluginError(
                    f"timeout waiting for multiplexing knock handshake on id {service_id}"
                ) from None
        if not (reply.knock.knock and reply.knock.ack):
            raise PluginError(f"handshake failed for multiplexing on id {service_id}")
        if reply.knock.error:
            raise PluginError(f"failed to knock for id {service_id}: {reply.knock.error}")

    async def close(self) -> None:
        """End the stream and stop the brokered servers."""
        with self._swap:
            self._closed = True
            self._outgoing.put_nowait(None)
            servers, self._servers = self._servers, []
            endpoints, self._endpoints = self._endpoints, []
        self._state.close(PluginError("the broker is closed"))
        if self._call is not None:
            self._call.cancel()
        for server, listener in servers:
            await stop_server(server, 0)
            listener.close()
        if endpoints:  # TLS relays: closing one joins its threads
            await run_blocking(_close_all, endpoints)


def _close_all(endpoints: list[Endpoint]) -> None:
    for endpoint in endpoints:
        endpoint.close()


def _log_receive_failure(exc: Exception, state: BrokerState) -> None:
    # grpc is looked up, not imported: under the pure engine it may never be loaded, and then
    # no RpcError can have been raised.
    import sys

    grpc = sys.modules.get("grpc")
    if grpc is None or not isinstance(exc, grpc.RpcError):
        if state.closed:
            # We ended the stream first: grpc.aio's request iterator then fails with
            # UsageError("RPC already finished") rather than ending.
            _log.debug("broker stream ended by this side", exc_info=exc)
        else:
            _log.error("broker receive loop failed", exc_info=exc)
        return
    # Server side, grpcio raises a bare RpcError (no code) when the host hangs up.
    code = exc.code() if callable(getattr(exc, "code", None)) else None
    if code == grpc.StatusCode.UNIMPLEMENTED:
        _log.debug("the plugin does not implement GRPCBroker")
    elif code not in (None, grpc.StatusCode.CANCELLED):
        _log.debug("broker stream ended: %s", code)
