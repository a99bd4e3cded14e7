"""The host's gRPC connection to a plugin (go-plugin's grpc_client.go).

Source of truth for both flavours (``_sync/grpc_client.py`` is generated). It owns the
channel, the broker stream and the stdio stream, and speaks go-plugin's internal services:
Health for ``ping()``, GRPCController for a graceful stop.
"""

from __future__ import annotations

import logging
from typing import IO, TYPE_CHECKING, Any

import grpc

from .._internal import (
    CONTROLLER_SHUTDOWN,
    HEALTH_CHECK,
    HEALTH_SERVICE_NAME,
    STDIO_STREAM,
    StdioData,
)
from ..errors import PluginError
from ._backend import (
    AsyncGuardedChannel,
    Channel,
    ErrorTranslator,
    open_channel,
    start_task,
)
from .broker import GRPCBroker

if TYPE_CHECKING:
    from .._handshake import Handshake
from .._grpcmux import GRPCMuxer
from .._transport import TLSPair, dial

__all__ = ["GRPCClient"]

_log = logging.getLogger("goplugin.client")


class GRPCClient:
    """One gRPC connection to a plugin, with its broker and stdio streams."""

    def __init__(
        self,
        handshake: Handshake,
        *,
        options: list[tuple[str, Any]],
        socket_dir: str,
        translate_error: ErrorTranslator,
        tls: TLSPair | None,
        sync_stdout: IO[bytes] | None,
        sync_stderr: IO[bytes] | None,
    ) -> None:
        self._muxer: GRPCMuxer | None = None
        network, address = handshake.network, handshake.address
        if handshake.multiplex:
            # One connection carries everything; grpcio reaches it through a local bridge.
            self._muxer = _connect_muxer(network, address, socket_dir)
            network, address = "unix", self._muxer.bridge()
        self._endpoint = dial(network, address, tls, socket_dir=socket_dir)
        self._raw: Channel | None = open_channel(self._endpoint, options)
        self.channel = AsyncGuardedChannel(self._raw, translate_error)
        self.broker = GRPCBroker(
            socket_dir=socket_dir,
            grpc_options=options,
            tls=tls,
            muxer=self._muxer,
            wrap_channel=lambda channel: AsyncGuardedChannel(channel, translate_error),
        )
        self.broker.open_stream(self._raw)
        # Like Go's host: ask for the plugin's redirected stdout/stderr right away, so a chatty
        # plugin never blocks on a full buffer.
        self._sinks = {StdioData.STDOUT: sync_stdout, StdioData.STDERR: sync_stderr}
        self._stdio_call: Any = self._raw.unary_stream(STDIO_STREAM, bytes, StdioData.FromString)(
            b""
        )
        start_task(self._copy_stdio, self._stdio_call)

    async def _copy_stdio(self, call: Any) -> None:
        try:
            async for data in call:
                sink = self._sinks.get(data.channel)
                if sink is not None:
                    sink.write(data.data)
                    sink.flush()
        except grpc.RpcError as exc:
            code = exc.code()
            if code == grpc.StatusCode.UNIMPLEMENTED:
                _log.debug("plugin does not implement GRPCStdio; its stdio is not forwarded")
            elif code not in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE):
                _log.warning("plugin stdio stream ended: %s", exc)
        except Exception:
            _log.exception("error while copying plugin stdio")

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
        await self.broker.close()
        raw = self._raw
        if raw is None:
            return
        self._raw = None
        if shutdown:
            call = raw.unary_unary(CONTROLLER_SHUTDOWN, bytes, bytes)
            try:
                await call(b"", timeout=timeout)
            except grpc.RpcError as exc:
                # A Go plugin stops its server before answering; errors here are expected.
                _log.debug("GRPCController.Shutdown: %s", exc.code())
        self._stdio_call.cancel()
        await raw.close()
        self._endpoint.close()
        if self._muxer is not None:
            self._muxer.close()


def _connect_muxer(network: str, address: str, socket_dir: str) -> GRPCMuxer:
    """Dial the plugin once and run the yamux client session on it (grpc_client_muxer.go)."""
    import socket

    from ..netrpc._session import Session

    if network == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(address)
    else:
        host, _, port = address.rpartition(":")
        sock = socket.create_connection((host.strip("[]"), int(port)))
    muxer = GRPCMuxer(server=False, socket_dir=socket_dir)
    muxer.attach(Session(sock, client=True))
    return muxer
