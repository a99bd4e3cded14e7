"""Command line: ``python -m goplugin inspect PLUGIN [ARGS...] --cookie KEY=VALUE``.

``inspect`` launches a plugin the way a go-plugin host would, prints what its handshake says and
which gRPC services it offers (from server reflection, where the plugin registers it) as one
JSON object, and stops it. A net/rpc plugin is connected to and pinged; its "services" are
null, since net/rpc cannot list what a plugin dispenses. Any failure prints a one-line reason
and exits non-zero.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]


def _cookie(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key or not value:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m goplugin", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    inspect = sub.add_parser("inspect", help="launch a plugin and describe it as JSON")
    inspect.add_argument("plugin", help="the plugin executable")
    inspect.add_argument(
        "args", nargs="*", help="arguments for the plugin (after -- if they start with a dash)"
    )
    inspect.add_argument(
        "--cookie",
        type=_cookie,
        required=True,
        metavar="KEY=VALUE",
        help="the magic cookie of the plugin's HandshakeConfig",
    )
    inspect.add_argument(
        "--version",
        type=int,
        action="append",
        dest="versions",
        metavar="N",
        help="an app protocol version to offer (repeatable; default 1)",
    )
    inspect.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for the handshake (default 30)"
    )
    return parser


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
    from . import HandshakeConfig, PluginClient, Protocol

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
        hs = client.handshake
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


def main(argv: Sequence[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    try:
        result = inspect(options)
    except KeyboardInterrupt:
        print("goplugin: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the CLI's contract: one line, non-zero exit
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        tail = [line for line in getattr(exc, "stderr_tail", ()) if line.strip()]
        if tail:
            reason += f" (plugin stderr: {tail[0]})"
        print(f"goplugin: {type(exc).__name__}: {reason}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
