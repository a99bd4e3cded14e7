"""Flavour-independent decisions of the plugin side: cookie, version, protocol, listen address.

Everything a plugin reads from the environment its host set (go-plugin's server.go ``Serve``
and ``protocolVersion``) is decided here, once, for both :func:`goplugin.serve` flavours.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._handshake import (
    ENV_CLIENT_CERT,
    ENV_MAX_PORT,
    ENV_MIN_PORT,
    ENV_MULTIPLEX_GRPC,
    ENV_PROTOCOL_VERSIONS,
    ENV_UNIX_SOCKET_DIR,
    ENV_UNIX_SOCKET_GROUP,
    HandshakeConfig,
    Protocol,
    negotiate_plugin_version,
    parse_go_bool,
    parse_protocol_versions,
)
from .plugin import GRPCPlugin

__all__ = ["NOT_A_PLUGIN_MESSAGE", "ServeConfig", "make_serve_config"]

# go-plugin's exact text, so users see the message they know from Go plugins.
NOT_A_PLUGIN_MESSAGE = (
    "This binary is a plugin. These are not meant to be executed directly.\n"
    "Please execute the program that consumes these plugins, which will\n"
    "load any plugins automatically\n"
)

_log = logging.getLogger("goplugin.server")


@dataclass
class ServeConfig:
    handshake: HandshakeConfig
    version: int
    plugins: Mapping[str, Any]
    protocol: Protocol
    #: "unix" or "tcp"
    network: str
    #: TCP: the inclusive port range to try on 127.0.0.1.
    port_range: tuple[int, int] = (0, 0)
    #: unix: the directory the host asked for (PLUGIN_UNIX_SOCKET_DIR), or None for a private one.
    socket_dir: str | None = None
    socket_group: str | None = None
    client_cert_pem: str | None = None
    multiplex_requested: bool = False
    grpc_options: list[tuple[str, Any]] = field(default_factory=list)
    #: Debug mode: started by a developer, attached to by hosts (see serve(debug=...)).
    debug: bool = False


def check_magic_cookie(handshake: HandshakeConfig, environ: Mapping[str, str]) -> None:
    """Exit with go-plugin's friendly message when not launched by a host."""
    if environ.get(handshake.magic_cookie_key) != handshake.magic_cookie_value:
        sys.stderr.write(NOT_A_PLUGIN_MESSAGE)
        sys.stderr.flush()
        raise SystemExit(1)


def _protocol_of(plugins: Mapping[str, Any]) -> Protocol:
    """gRPC if every plugin of the set is a gRPC plugin, net/rpc if every one can be served
    over net/rpc (``netrpc_server``); one connection speaks one protocol."""
    if not plugins or all(isinstance(p, GRPCPlugin) for p in plugins.values()):
        return Protocol.GRPC
    if all(hasattr(p, "netrpc_server") for p in plugins.values()):
        return Protocol.NETRPC
    for name, p in plugins.items():
        if not isinstance(p, GRPCPlugin) and not hasattr(p, "netrpc_server"):
            raise ValueError(
                f"plugin {name!r} ({type(p).__name__}) is neither a gRPC plugin (grpc_server, "
                "grpc_client) nor a net/rpc one (netrpc_server, e.g. goplugin.netrpc.Plugin)"
            )
    raise ValueError("all plugins in one set must use the same protocol (gRPC or net/rpc)")


def make_serve_config(
    *,
    handshake: HandshakeConfig,
    plugins: Mapping[str, Any] | None,
    versioned_plugins: Mapping[int, Mapping[str, Any]] | None,
    grpc_options: list[tuple[str, Any]],
    force_tcp: bool,
    debug: bool = False,
    environ: Mapping[str, str] | None = None,
) -> ServeConfig:
    env = os.environ if environ is None else environ
    sets: dict[int, Mapping[str, Any]] = dict(versioned_plugins or {})
    if plugins is not None:
        sets[handshake.protocol_version] = plugins
    if not sets:
        raise ValueError("serve() needs plugins or versioned_plugins")
    host_versions, invalid = parse_protocol_versions(env.get(ENV_PROTOCOL_VERSIONS, ""))
    if debug and not host_versions:
        host_versions = list(sets)  # no host to ask: offer our newest version
    for item in invalid:
        _log.warning("server sent invalid plugin version %r", item)
    version, agreed = negotiate_plugin_version(host_versions, sets)
    if not agreed:
        # Like go-plugin: announce our lowest version and let the host, which knows both
        # lists, refuse with a message that names them; say why here too.
        _log.error(
            "no protocol version in common with the host: the host offers %s, this plugin "
            "offers %s",
            sorted(host_versions),
            sorted(sets),
        )
    chosen = sets[version]
    network = "tcp" if force_tcp or os.name == "nt" else "unix"
    min_port = _env_int(env, ENV_MIN_PORT)
    max_port = _env_int(env, ENV_MAX_PORT)
    if min_port > max_port:
        raise ValueError(f"{ENV_MIN_PORT} ({min_port}) is greater than {ENV_MAX_PORT} ({max_port})")
    return ServeConfig(
        handshake=handshake,
        version=version,
        plugins=chosen,
        protocol=_protocol_of(chosen),
        network=network,
        port_range=(min_port, max_port),
        socket_dir=env.get(ENV_UNIX_SOCKET_DIR) or None,
        socket_group=env.get(ENV_UNIX_SOCKET_GROUP) or None,
        client_cert_pem=env.get(ENV_CLIENT_CERT) or None,
        multiplex_requested=_truthy(env.get(ENV_MULTIPLEX_GRPC, "")),
        grpc_options=grpc_options,
        debug=debug,
    )


def _truthy(value: str) -> bool:
    try:
        return parse_go_bool(value)
    except ValueError:
        return False


def _env_int(env: Mapping[str, str], key: str) -> int:
    value = env.get(key, "")
    if not value:
        return 0
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{key} must be an integer, got {value!r}") from None
