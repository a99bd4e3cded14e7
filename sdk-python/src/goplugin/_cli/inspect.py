"""``python -m goplugin inspect PLUGIN [ARGS...] --cookie KEY=VALUE``: what a plugin announces.

The plugin is launched the way a go-plugin host would; its handshake and its gRPC services
(from server reflection, where the plugin registers it) are printed as one JSON object, and
it is stopped. A net/rpc plugin is connected to and pinged; its "services" are null, since
net/rpc cannot list what a plugin dispenses.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from . import add_plugin_arguments

__all__ = ["add_arguments", "inspect", "run"]


def add_arguments(
    parser: argparse.ArgumentParser, cookie: Callable[[str], tuple[str, str]]
) -> None:
    add_plugin_arguments(parser, cookie)
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for the handshake (default 30)"
    )


def _services(channel: Any, timeout: float) -> list[str] | None:
    """The plugin's gRPC services via server reflection, or None if it does not offer it."""
    import grpc
    from grpc_reflection.v1alpha import reflection_pb2

    info = channel.stream_stream(
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        reflection_pb2.ServerReflectionRequest.SerializeToString,
        reflection_pb2.ServerReflectionResponse.FromString,
    )
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    try:
        for response in info(iter([request]), timeout=timeout):
            return sorted(s.name for s in response.list_services_response.service)
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
            return None
        raise
    return None


def inspect(options: argparse.Namespace) -> dict[str, Any]:
    from .. import HandshakeConfig, PluginClient, Protocol

    versions = options.versions or [1]
    key, value = options.cookie
    handshake = HandshakeConfig(versions[0], key, value)
    client = PluginClient(
        [options.plugin, *options.args],
        handshake=handshake,
        versioned_plugins={v: {} for v in versions},
        start_timeout=options.timeout,
    )
    with client:
        hs = client.handshake_line
        assert hs is not None
        services = None
        if hs.protocol is Protocol.GRPC:
            services = _services(client.grpc_channel, options.timeout)
        else:
            client.ping(options.timeout)
        return {
            "core_version": hs.core_version,
            "app_version": hs.app_version,
            "network": hs.network,
            "address": hs.address,
            "protocol": hs.protocol.value,
            "tls": hs.server_cert is not None,
            "multiplex": hs.multiplex,
            "pid": client.pid,
            "services": services,
        }


def run(options: argparse.Namespace) -> int:
    print(json.dumps(inspect(options), indent=2))
    return 0
