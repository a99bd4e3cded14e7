"""``goplugin check``'s gRPC rows: go-plugin's internal services, called the way a Go host
calls them (go-plugin v1.8.0 grpc_client.go): the broker stream and GRPCStdio opened on
connect, Health for ``Ping()``, and on ``Kill()`` the broker closed, GRPCController.Shutdown,
the connection closed, two seconds for the process to exit."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

import grpc

from .._backends.sync import open_channel
from .._protocol.internal import (
    CONTROLLER_SHUTDOWN,
    HEALTH_CHECK,
    HEALTH_SERVICE_NAME,
    MAX_MESSAGE_SIZE,
    STDIO_STREAM,
    StdioData,
)
from .._transport.endpoints import dial

if TYPE_CHECKING:
    from .._protocol.handshake import Handshake
    from .._transport.endpoints import TLSPair
    from .checklaunch import Launch
    from .checkreport import Report

__all__ = ["KILL_GRACE", "GRPCConnection", "check_grpc"]

#: go-plugin's Kill(): how long a plugin has to exit after Shutdown before SIGKILL.
KILL_GRACE = 2.0
# A GRPCStdio stream that fails does so at once (UNIMPLEMENTED, or an immediate end); one still
# open after this long has opened.
_STDIO_SETTLE = 0.25
_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.max_send_message_length", MAX_MESSAGE_SIZE),
    ("grpc.max_receive_message_length", MAX_MESSAGE_SIZE),
    ("grpc.use_local_subchannel_pool", 1),
]
_REFLECTION = (
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",  # same messages on the wire
)
_INTERNAL_PREFIXES = ("plugin.", "grpc.health.", "grpc.reflection.")


def _rpc_failure(exc: grpc.RpcError) -> str:
    code = exc.code()
    details = exc.details() if hasattr(exc, "details") else ""
    name = code.name if code is not None else "UNKNOWN"
    return f"{name}: {details}" if details else name


class GRPCConnection:
    """A plain grpcio channel to the plugin (through our OpenSSL relay when ``tls`` is on)."""

    def __init__(self, handshake: Handshake, socket_dir: str, tls: TLSPair | None = None):
        self._endpoint = dial(handshake.network, handshake.address, tls, socket_dir=socket_dir)
        try:
            self.channel = open_channel(self._endpoint, _OPTIONS)
        except BaseException:
            self._endpoint.close()
            raise

    def __enter__(self) -> GRPCConnection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.channel.close()
        self._endpoint.close()

    def health(self, timeout: float) -> str:
        """The status name of go-plugin's "plugin" health service (raises grpc.RpcError)."""
        from grpc_health.v1 import health_pb2

        check = self.channel.unary_unary(
            HEALTH_CHECK,
            request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
            response_deserializer=health_pb2.HealthCheckResponse.FromString,
        )
        response = check(
            health_pb2.HealthCheckRequest(service=HEALTH_SERVICE_NAME), timeout=timeout
        )
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))

    def services(self, timeout: float) -> list[str]:
        """Service names from server reflection (v1alpha, else v1; raises grpc.RpcError)."""
        from grpc_reflection.v1alpha import reflection_pb2

        request = reflection_pb2.ServerReflectionRequest(list_services="")
        for index, method in enumerate(_REFLECTION):
            info = self.channel.stream_stream(
                method,
                request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
                response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
            )
            try:
                for response in info(iter([request]), timeout=timeout):
                    return sorted(s.name for s in response.list_services_response.service)
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.UNIMPLEMENTED or index == len(_REFLECTION) - 1:
                    raise
        return []

    def shutdown(self, timeout: float) -> str | None:
        """GRPCController.Shutdown; the error, if any (a Go plugin may not answer at all)."""
        call = self.channel.unary_unary(CONTROLLER_SHUTDOWN, bytes, bytes)
        try:
            call(b"", timeout=timeout)
        except grpc.RpcError as exc:
            return _rpc_failure(exc)
        return None


def check_grpc(report: Report, launch: Launch, handshake: Handshake, timeout: float) -> None:
    """The health, stdio, reflection and shutdown rows, on one connection like a Go host's."""
    from .._sync.broker import GRPCBroker

    try:
        conn = GRPCConnection(handshake, launch.socket_dir)
    except Exception as exc:
        reason = f"cannot connect to {handshake.network}:{handshake.address}: {exc}"
        for name in ("health", "stdio", "reflection", "shutdown"):
            report.failed(name, reason)
        return
    with conn:
        # What a Go host opens on connect: the broker stream (errors ignored) and GRPCStdio.
        broker = GRPCBroker(socket_dir=launch.socket_dir, grpc_options=_OPTIONS)
        broker.open_stream(conn.channel)
        stdio: Any = conn.channel.unary_stream(STDIO_STREAM, bytes, StdioData.FromString)(b"")
        stdio_ended = threading.Event()
        stdio.add_done_callback(lambda _: stdio_ended.set())
        opened = time.monotonic()
        try:
            _health(report, conn, timeout)
            _reflection(report, conn, timeout)
            stdio_ended.wait(max(0.0, opened + _STDIO_SETTLE - time.monotonic()))
            _stdio(report, stdio)
        finally:
            broker.close()
        started = time.monotonic()
        error = conn.shutdown(KILL_GRACE)
        stdio.cancel()
    status = launch.wait_exit(max(0.0, started + KILL_GRACE - time.monotonic()))
    elapsed = time.monotonic() - started
    if status is not None:
        report.passed("shutdown", f"exited {elapsed:.2f} s after Shutdown (status {status})")
        return
    answered = f" (Shutdown answered {error})" if error else ""
    report.failed(
        "shutdown",
        f"still running {KILL_GRACE:g} s after GRPCController.Shutdown{answered}: a Go host "
        "logs 'plugin failed to exit gracefully' and kills it",
    )


def _health(report: Report, conn: GRPCConnection, timeout: float) -> None:
    try:
        status = conn.health(timeout)
    except grpc.RpcError as exc:
        report.failed(
            "health",
            f'Health.Check("{HEALTH_SERVICE_NAME}") failed ({_rpc_failure(exc)}): a Go host\'s '
            "Ping() fails",
        )
        return
    if status == "SERVING":
        report.passed("health", f'Health.Check("{HEALTH_SERVICE_NAME}"): SERVING')
    else:
        report.failed(
            "health", f'Health.Check("{HEALTH_SERVICE_NAME}"): {status}: a Go host\'s Ping() fails'
        )


def _reflection(report: Report, conn: GRPCConnection, timeout: float) -> None:
    try:
        services = conn.services(timeout)
    except grpc.RpcError as exc:
        report.failed(
            "reflection",
            f"not served ({_rpc_failure(exc)}): go-plugin registers it on every Go plugin, "
            "and grpcurl and `goplugin inspect` rely on it",
        )
        return
    own = [name for name in services if not name.startswith(_INTERNAL_PREFIXES)]
    if not services:
        report.failed("reflection", "it lists no services")
        return
    listed = ", ".join(own) if own else "only go-plugin's own"
    report.passed("reflection", f"lists {len(services)} services; the plugin's: {listed}")


def _stdio(report: Report, stdio: Any) -> None:
    if not stdio.done():
        report.passed("stdio", "open: the plugin's stdout and stderr reach the host through it")
        return
    code = stdio.code()
    if code == grpc.StatusCode.UNIMPLEMENTED:
        report.failed(
            "stdio",
            "not served (UNIMPLEMENTED): a Go host logs a warning, and what the plugin writes "
            "to stdout and stderr after the handshake never reaches it",
        )
        return
    details = stdio.details() or ""
    report.failed(
        "stdio",
        f"the stream ended at once ({code.name}{': ' + details if details else ''}): the "
        "plugin's stdout and stderr never reach the host",
    )
