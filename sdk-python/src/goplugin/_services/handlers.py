"""The method handlers goplugin's internal services register, without importing grpc.

Both serving engines read a grpcio ``RpcMethodHandler``'s attributes and nothing else, so one
tuple with those fields registers the internal services (health, stdio, broker, controller,
reflection) and generated plugins' methods the same way on either engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

__all__ = ["MethodHandler", "method_handler"]


class MethodHandler(NamedTuple):
    """grpcio's ``RpcMethodHandler`` fields, without importing grpc: both engines read these
    attributes and nothing else, so the internal services register the same way on either."""

    request_streaming: bool
    response_streaming: bool
    request_deserializer: Callable[[bytes], Any] | None
    response_serializer: Callable[[Any], bytes] | None
    unary_unary: Callable[..., Any] | None
    unary_stream: Callable[..., Any] | None
    stream_unary: Callable[..., Any] | None
    stream_stream: Callable[..., Any] | None


def method_handler(
    fn: Callable[..., Any],
    *,
    streams: str = "",
    deserialize: Callable[[bytes], Any] | None = None,
    serialize: Callable[[Any], bytes] | None = None,
) -> MethodHandler:
    """``streams`` says which side streams: "", "request", "response" or "both"."""
    request = streams in ("request", "both")
    response = streams in ("response", "both")
    return MethodHandler(
        request,
        response,
        deserialize,
        serialize,
        fn if not (request or response) else None,
        fn if response and not request else None,
        fn if request and not response else None,
        fn if request and response else None,
    )
