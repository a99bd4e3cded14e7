"""The host's gRPC connection to a plugin (go-plugin's grpc_client.go).

Source of truth for both flavours (``_sync/grpc_client.py`` is generated). It owns the
channel, the broker stream and the stdio stream, and speaks go-plugin's internal services:
Health for ``ping()``, GRPCController for a graceful stop.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import grpc

from .._backends.aio import (
    AsyncGuardedChannel,
    Channel,
    open_channel,
    run_blocking,
    run_blocking_owned,
    start_task,
    wait_future,
)
from .._protocol.internal import (
    CONTROLLER_SHUTDOWN,
    HEALTH_CHECK,
    HEALTH_SERVICE_NAME,
    STDIO_STREAM,
    StdioData,
)
from .._transport.endpoints import dial
from .._transport.grpcmux import GRPCMuxer
from .._transport.sockets import connect
from ..errors import PluginError
from .broker import GRPCBroker

if TYPE_CHECKING:
    from .._host.output import PluginOutput
    from .._protocol.handshake import Handshake
    from .._transport.channel import AsyncCallJudge
    from .._transport.endpoints import Endpoint, TLSPair

__all__ = ["GRPCClient"]

_log = logging.getLogger("goplugin.client")
# After asking a plugin to stop, how long its stdio stream may take to deliver what is left.
_DRAIN_WAIT = 0.5


class GRPCClient:
    """One gRPC connection to a plugin, with its broker and stdio streams."""

    @classmethod
    async def open(
        cls,
        handshake: Handshake,
        *,
        options: list[tuple[str, Any]],
        socket_dir: str,
        judge: AsyncCallJudge,
        tls: TLSPair | None,
        output: PluginOutput,
    ) -> GRPCClient:
        """Connect (the blocking part, a yamux dial or a TLS relay, off the event loop)."""
        muxer, endpoint = await run_blocking_owned(
            _open_transport, _close_transport, handshake, tls, socket_dir
        )
        return cls(
            muxer,
            endpoint,
            options=options,
            socket_dir=socket_dir,
            judge=judge,
            tls=tls,
            output=output,
        )

    def __init__(
        self,
        muxer: GRPCMuxer | None,
        endpoint: Endpoint,
        *,
        options: list[tuple[str, Any]],
        socket_dir: str,
        judge: AsyncCallJudge,
        tls: TLSPair | None,
        output: PluginOutput,
    ) -> None:
        self._muxer = muxer
        self._endpoint: Endpoint | None = endpoint
        self._raw: Channel | None = None
        try:
            self._raw = open_channel(endpoint, options)
        except BaseException:
            self._release()
            raise
        self.channel = AsyncGuardedChannel(self._raw, judge)
        self.broker = GRPCBroker(
            socket_dir=socket_dir,
            grpc_options=options,
            tls=tls,
            muxer=self._muxer,
            wrap_channel=lambda channel: AsyncGuardedChannel(channel, judge),
        )
        self.broker.open_stream(self._raw)
        # Like Go's host: ask for the plugin's redirected stdout/stderr right away, so a chatty
        # plugin never blocks on a full buffer.
        self._output = output
        output.stream_opened()
        self._stdio_call: Any = self._raw.unary_stream(STDIO_STREAM, bytes, StdioData.FromString)(
            b""
        )
        self._stdio_task = start_task(self._copy_stdio, self._stdio_call)

    async def _copy_stdio(self, call: Any) -> None:
        output = self._output
        try:
            async for data in call:
                output.stdio(data.channel, data.data)
        except grpc.RpcError as exc:
            code = exc.code()
            if code == grpc.StatusCode.UNIMPLEMENTED:
                _log.debug("plugin does not implement GRPCStdio; its stdio is not forwarded")
            elif code not in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE):
                _log.warning("plugin stdio stream ended: %s", exc)
        except Exception:
            _log.exception("error while copying plugin stdio")
        finally:
            output.stream_closed(StdioData.STDOUT, StdioData.STDERR)

    def dispense(self, name: str, plugin: Any) -> Any:
        """gRPC dispensing is local: the plugin object builds its client on our channel."""
        factory = getattr(plugin, "grpc_client", None)
        if factory is None:
            raise PluginError(f"plugin {name!r} does not implement grpc_client(broker, channel)")
        return factory(self.broker, self.channel)

    async def ping(self, timeout: float) -> None:
        from grpc_health.v1 import health_pb2

        check = self.channel.unary_unary(
            HEALTH_CHECK,
            health_pb2.HealthCheckRequest.SerializeToString,
            health_pb2.HealthCheckResponse.FromString,
        )
        response = await check(
            health_pb2.HealthCheckRequest(service=HEALTH_SERVICE_NAME), timeout=timeout
        )
        if response.status != health_pb2.HealthCheckResponse.SERVING:
            status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
            raise PluginError(f"plugin health is {status}")

    async def close(self, *, shutdown: bool, timeout: float) -> None:
        """Close the broker, ask the plugin to exit if ``shutdown``, close the connection."""
        raw, self._raw = self._raw, None
        if raw is None:
            return
        try:
            await self.broker.close()
            if shutdown:
                call = raw.unary_unary(CONTROLLER_SHUTDOWN, bytes, bytes)
                try:
                    await call(b"", timeout=timeout)
                except grpc.RpcError as exc:
                    # A Go plugin stops its server before answering; errors are expected.
                    _log.debug("GRPCController.Shutdown: %s", exc.code())
                # What it printed last is still on the stdio stream, which its server ends.
                try:
                    await wait_future(self._output.streams_closed(), min(timeout, _DRAIN_WAIT))
                except TimeoutError:
                    pass
        finally:
            self._stdio_call.cancel()
            await raw.close()
            if self._muxer is not None or (self._endpoint and self._endpoint.closes_something):
                await run_blocking(self._release)  # joins the muxer's or relay's threads
            else:
                self._release()

    def _release(self) -> None:
        if self._endpoint is not None:
            self._endpoint.close()
        if self._muxer is not None:
            self._muxer.close()


def _open_transport(
    handshake: Handshake, tls: TLSPair | None, socket_dir: str
) -> tuple[GRPCMuxer | None, Endpoint]:
    """What grpcio dials: the plugin's address, a yamux bridge to it, or a TLS relay."""
    muxer: GRPCMuxer | None = None
    try:
        network, address = handshake.network, handshake.address
        if handshake.multiplex:
            # One connection carries everything; grpcio reaches it through a local bridge.
            muxer = _connect_muxer(network, address, socket_dir)
            network, address = "unix", muxer.bridge()
        return muxer, dial(network, address, tls, socket_dir=socket_dir)
    except BaseException:
        if muxer is not None:
            muxer.close()
        raise


def _close_transport(transport: tuple[GRPCMuxer | None, Endpoint]) -> None:
    muxer, endpoint = transport
    endpoint.close()
    if muxer is not None:
        muxer.close()


def _connect_muxer(network: str, address: str, socket_dir: str) -> GRPCMuxer:
    """Dial the plugin once and run the yamux client session on it (grpc_client_muxer.go)."""
    from .._yamux.session import Session

    muxer = GRPCMuxer(server=False, socket_dir=socket_dir)
    muxer.attach(Session(connect(network, address, timeout=10.0), client=True))
    return muxer
