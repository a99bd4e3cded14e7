"""Flavour-independent decisions of the plugin side: cookie, version, protocol, listen address.

Everything a plugin reads from the environment its host set (go-plugin's server.go ``Serve``
and ``protocolVersion``) is decided here, once, for both :func:`goplugin.serve` flavours.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._engines import DEFAULT_MAX_CONCURRENT_CALLS
from .._pluginset import check_plugin_sets
from .._protocol.handshake import (
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
    parse_go_int,
    parse_protocol_versions,
)
from ..errors import PluginSetError
from ..plugin import GRPCPlugin

if TYPE_CHECKING:
    from ..plugin import PluginSet

__all__ = [
    "INTERNAL_STREAMS",
    "NOT_A_PLUGIN_MESSAGE",
    "ServeConfig",
    "check_max_concurrent_calls",
    "make_serve_config",
]

#: Calls a go-plugin host keeps open on a gRPC plugin for the life of its connection
#: (GRPCStdio.StreamStdio and GRPCBroker.StartStream). grpcio counts them with the user's calls,
#: so the server admits this many more than ``max_concurrent_calls``: they never take a
#: user's place, and a user never waits for theirs.
INTERNAL_STREAMS = 2

# go-plugin's exact text, so users see the message they know from Go plugins.
NOT_A_PLUGIN_MESSAGE = (
    "This binary is a plugin. These are not meant to be executed directly.\n"
    "Please execute the program that consumes these plugins, which will\n"
    "load any plugins automatically\n"
)

_log = logging.getLogger("goplugin.server")


class ServeConfig:
    """What serve() decided from its arguments and the host's environment.

    A plain class, not a dataclass: every plugin launch imports it, and a dataclass costs about
    a millisecond to create.
    """

    __slots__ = (
        "client_cert_pem",
        "debug",
        "grpc_options",
        "handshake",
        "max_concurrent_calls",
        "multiplex_requested",
        "network",
        "plugins",
        "port_range",
        "protocol",
        "provider_address",
        "socket_dir",
        "socket_group",
        "version",
    )

    def __init__(
        self,
        handshake: HandshakeConfig,
        version: int,
        plugins: PluginSet,
        protocol: Protocol,
        network: str,
        port_range: tuple[int, int] = (0, 0),
        socket_dir: str | None = None,
        socket_group: str | None = None,
        client_cert_pem: str | None = None,
        multiplex_requested: bool = False,
        grpc_options: list[tuple[str, Any]] | None = None,
        debug: bool = False,
        max_concurrent_calls: int = DEFAULT_MAX_CONCURRENT_CALLS,
        provider_address: str | None = None,
    ) -> None:
        self.handshake = handshake
        self.version = version
        self.plugins = plugins
        self.protocol = protocol
        #: "unix" or "tcp"
        self.network = network
        #: TCP: the inclusive port range to try on 127.0.0.1.
        self.port_range = port_range
        #: unix: the directory the host asked for (PLUGIN_UNIX_SOCKET_DIR), or None for a
        #: private one.
        self.socket_dir = socket_dir
        self.socket_group = socket_group
        self.client_cert_pem = client_cert_pem
        self.multiplex_requested = multiplex_requested
        self.grpc_options: list[tuple[str, Any]] = [] if grpc_options is None else grpc_options
        #: Debug mode: started by a developer, attached to by hosts (see serve(debug=...)).
        self.debug = debug
        #: How many of the host's calls run at once; past it a call is refused at once.
        self.max_concurrent_calls = max_concurrent_calls
        #: Debug mode: the Terraform provider address to print TF_REATTACH_PROVIDERS for.
        self.provider_address = provider_address


def check_max_concurrent_calls(value: object) -> int:
    """A positive int, or a TypeError/ValueError that names the parameter."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"max_concurrent_calls must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"max_concurrent_calls must be at least 1, got {value}")
    return value


# What a Python user can do about it, after go-plugin's text. The cookie's value is not
# printed: it is the host's to send.
_BY_HAND_HINT = (
    "(goplugin) The environment variable {key} does not hold this plugin's magic cookie: "
    "either no host started it, or the host's HandshakeConfig differs from the one given to "
    "serve(). To run it by hand (e.g. in a debugger), set GOPLUGIN_DEBUG=1 and attach a host "
    "with PluginClient(reattach=...).\n"
)


def check_magic_cookie(handshake: HandshakeConfig, environ: Mapping[str, str]) -> None:
    """Exit with go-plugin's friendly message when not launched by a host.

    When a go-plugin host did launch us (it always sets PLUGIN_PROTOCOL_VERSIONS) with another
    cookie, one more line says which cookie this plugin expects, so that the host can name the
    mismatch (the cookie is not a secret: go-plugin documents it as a UX feature).
    """
    key, value = handshake.magic_cookie_key, handshake.magic_cookie_value
    if environ.get(key) != value:
        sys.stderr.write(NOT_A_PLUGIN_MESSAGE)
        if ENV_PROTOCOL_VERSIONS in environ:
            sent = environ.get(key)
            got = f"the host sent {key}={sent}" if sent is not None else f"no {key} was set"
            sys.stderr.write(
                f"goplugin: this plugin expects the magic cookie {key}={value} ({got})\n"
            )
        else:  # nobody launched it: most likely someone ran it by hand
            sys.stderr.write(_BY_HAND_HINT.format(key=key))
        sys.stderr.flush()
        raise SystemExit(1)


def _protocol_of(plugins: PluginSet) -> Protocol:
    """gRPC if every plugin of the set is a gRPC plugin, net/rpc if every one can be served
    over net/rpc (``netrpc_server``); one connection speaks one protocol."""
    if not plugins or all(isinstance(p, GRPCPlugin) for p in plugins.values()):
        return Protocol.GRPC
    if all(hasattr(p, "netrpc_server") for p in plugins.values()):
        return Protocol.NETRPC
    for name, p in plugins.items():
        if not isinstance(p, GRPCPlugin) and not hasattr(p, "netrpc_server"):
            raise PluginSetError(
                f"plugin {name!r} ({type(p).__name__}) is neither a gRPC plugin (grpc_server, "
                "grpc_client) nor a net/rpc one (netrpc_server, e.g. goplugin.netrpc.Plugin)"
            )
    raise ValueError("all plugins in one set must use the same protocol (gRPC or net/rpc)")


def make_serve_config(
    *,
    handshake: HandshakeConfig,
    plugins: PluginSet | None,
    versioned_plugins: Mapping[int, PluginSet] | None,
    grpc_options: list[tuple[str, Any]],
    force_tcp: bool,
    debug: bool = False,
    environ: Mapping[str, str] | None = None,
    max_concurrent_calls: int = DEFAULT_MAX_CONCURRENT_CALLS,
    provider_address: str | None = None,
) -> ServeConfig:
    if provider_address is not None:
        from .._protocol.reattach import check_provider_address

        check_provider_address(provider_address)
    env = os.environ if environ is None else environ
    sets: dict[int, PluginSet] = dict(versioned_plugins or {})
    if plugins is not None:
        sets[handshake.protocol_version] = plugins
    if not sets:
        raise ValueError("serve() needs plugins or versioned_plugins")
    check_plugin_sets(sets, host=False)
    host_versions, invalid = parse_protocol_versions(env.get(ENV_PROTOCOL_VERSIONS, ""))
    if debug and not host_versions:
        host_versions = list(sets)  # no host to ask: offer our newest version
    for item in invalid:
        _log.warning("server sent invalid plugin version %r", item)
    version, agreed = negotiate_plugin_version(host_versions, sets)
    if not host_versions:
        # go-plugin's protocolVersion(): a host that sends no list is a legacy host, served the
        # lowest version without complaint (it may well speak it); not a host offering nothing.
        _log.debug("the host sent no %s: serving version %d", ENV_PROTOCOL_VERSIONS, version)
    elif not agreed:
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
    min_port = max_port = 0
    if network == "tcp":  # a unix socket ignores the port range, as Go plugins do
        min_port = _env_int(env, ENV_MIN_PORT)
        max_port = _env_int(env, ENV_MAX_PORT)
        if min_port > max_port:
            raise ValueError(
                f"{ENV_MIN_PORT} ({min_port}) is greater than {ENV_MAX_PORT} ({max_port})"
            )
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
        max_concurrent_calls=check_max_concurrent_calls(max_concurrent_calls),
        provider_address=provider_address,
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
        port = parse_go_int(value)  # Go: strconv.ParseInt(value, 10, 32)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ValueError(f"{key} must be a port number, got {value!r}")
    return port
