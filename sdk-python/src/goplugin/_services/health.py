"""Plugin side of grpc.health.v1.Health: what a Go plugin's grpc-go health server answers.

The Check and Watch handlers themselves are registered by ``_async/server.py`` (and its
generated sync twin); the answer is decided here. grpc_health's generated code is imported on
the first call, not at plugin start-up: a Go host only calls health when its application
pings.
"""

from __future__ import annotations

from .._protocol.internal import HEALTH_SERVICE_NAME

__all__ = ["health_response"]


def health_response(request: bytes, *, watch: bool = False) -> bytes | None:
    """SERVING for the whole server ("") and for go-plugin's "plugin", like the grpc-go health
    server a Go plugin registers. Any other service: None for Check, which must then fail with
    NOT_FOUND ("unknown service"), and SERVICE_UNKNOWN for Watch."""
    from grpc_health.v1 import health_pb2

    service = health_pb2.HealthCheckRequest.FromString(request).service
    if service in ("", HEALTH_SERVICE_NAME):
        status = health_pb2.HealthCheckResponse.SERVING
    elif watch:
        status = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
    else:
        return None
    return bytes(health_pb2.HealthCheckResponse(status=status).SerializeToString())
