"""Sans-IO handshake: the plugin's first stdout line, the launch environment, version negotiation.

Everything here is a pure function over strings and mappings, so both sides (host and plugin)
and both flavours (sync and asyncio) share one implementation and it is tested without processes.
The rules mirror go-plugin v1.8.0's ``client.go`` (``Start``) and ``server.go`` (``Serve``).
"""

from __future__ import annotations

import base64
import binascii
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .errors import HandshakeError, IncompatibleVersionError, UnsupportedProtocolError

__all__ = [
    "CORE_PROTOCOL_VERSION",
    "ENV_CLIENT_CERT",
    "ENV_DEBUG",
    "ENV_MAX_PORT",
    "ENV_MIN_PORT",
    "ENV_MULTIPLEX_GRPC",
    "ENV_PROTOCOL_VERSIONS",
    "ENV_UNIX_SOCKET_DIR",
    "ENV_UNIX_SOCKET_GROUP",
    "Handshake",
    "HandshakeConfig",
    "Protocol",
    "check_handshake",
    "host_environment",
    "negotiate_plugin_version",
    "parse_go_bool",
    "parse_handshake",
]

#: go-plugin's ``CoreProtocolVersion``: the version of the handshake itself, always 1.
CORE_PROTOCOL_VERSION = 1

ENV_MIN_PORT = "PLUGIN_MIN_PORT"
ENV_MAX_PORT = "PLUGIN_MAX_PORT"
ENV_PROTOCOL_VERSIONS = "PLUGIN_PROTOCOL_VERSIONS"
ENV_MULTIPLEX_GRPC = "PLUGIN_MULTIPLEX_GRPC"
ENV_CLIENT_CERT = "PLUGIN_CLIENT_CERT"
ENV_UNIX_SOCKET_DIR = "PLUGIN_UNIX_SOCKET_DIR"
ENV_UNIX_SOCKET_GROUP = "PLUGIN_UNIX_SOCKET_GROUP"
#: Ours, not go-plugin's: set to run a Python plugin in debug (reattach) mode.
ENV_DEBUG = "GOPLUGIN_DEBUG"

# Go parses the certificate field only when it is longer than this (client.go).
_CERT_FIELD_MIN_LEN = 50

_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


class Protocol(str, enum.Enum):
    """The RPC protocol a plugin speaks, as named on the handshake line."""

    NETRPC = "netrpc"
    GRPC = "grpc"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class HandshakeConfig:
    """What host and plugin must agree on before they talk: go-plugin's ``HandshakeConfig``.

    The magic cookie is not a security measure; it stops a user from running a plugin by hand
    and lets a plugin binary tell that a host launched it. ``protocol_version`` is the app
    protocol version used when plugins are given without explicit versions.
    """

    protocol_version: int
    magic_cookie_key: str
    magic_cookie_value: str

    def __post_init__(self) -> None:
        if not self.magic_cookie_key or not self.magic_cookie_value:
            raise ValueError("HandshakeConfig needs a non-empty magic cookie key and value")


@dataclass(frozen=True)
class Handshake:
    """One parsed handshake line: ``CORE|APP|NETWORK|ADDRESS|PROTOCOL|CERT[|MUX]``."""

    core_version: int
    app_version: int
    network: str
    address: str
    protocol: Protocol
    #: DER bytes of the plugin's server certificate (AutoMTLS), or ``None``.
    server_cert: bytes | None = None
    #: The 7th field: ``None`` when absent, else whether the plugin multiplexes the broker.
    multiplex: bool | None = None

    def format(self) -> str:
        """The line exactly as Go's ``plugin.Serve`` prints it (without the newline)."""
        cert = "" if self.server_cert is None else _b64_raw_std(self.server_cert)
        fields = [
            str(self.core_version),
            str(self.app_version),
            self.network,
            self.address,
            self.protocol.value,
            cert,
        ]
        if self.multiplex is not None:
            fields.append("true" if self.multiplex else "false")
        return "|".join(fields)


def _b64_raw_std(data: bytes) -> str:
    # Go's base64.RawStdEncoding: the standard alphabet without '=' padding.
    return base64.b64encode(data).decode("ascii").rstrip("=")


def parse_go_bool(text: str) -> bool:
    """``strconv.ParseBool``: the only spellings Go accepts."""
    if text in _GO_TRUE:
        return True
    if text in _GO_FALSE:
        return False
    raise ValueError(f"invalid boolean {text!r}")


def parse_handshake(line: str | bytes) -> Handshake:
    """Parse a handshake line, raising :class:`HandshakeError` for anything Go would refuse.

    Like Go, surrounding whitespace is ignored, the protocol defaults to ``netrpc`` when the
    field is absent, and the certificate field is read only when it is longer than 50 chars.
    """
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError:
            raise HandshakeError(
                "Unrecognized remote plugin message: not UTF-8", line=repr(line)
            ) from None
    text = line.strip()
    parts = text.split("|")
    if len(parts) < 4:
        raise HandshakeError(
            f"Unrecognized remote plugin message: {text!r}\n"
            "This usually means the plugin was not compiled for this architecture, "
            "the plugin is missing dynamic-link libraries necessary to run, "
            "or it is not a go-plugin plugin",
            line=text,
        )
    core = _parse_int(parts[0], "core protocol version", text)
    if core != CORE_PROTOCOL_VERSION:
        raise IncompatibleVersionError(
            f"Incompatible core API version with plugin. Plugin version: {parts[0]}, "
            f"Core version: {CORE_PROTOCOL_VERSION}. To fix this, the plugin usually only "
            "needs to be recompiled against the current go-plugin protocol.",
            plugin_version=core,
            host_versions=(CORE_PROTOCOL_VERSION,),
            line=text,
        )
    app = _parse_int(parts[1], "app protocol version", text)
    network, address = parts[2], parts[3]
    if network not in ("unix", "tcp"):
        raise HandshakeError(f"unknown address type: {network}:{address}", line=text)
    if not address:
        raise HandshakeError("the plugin announced an empty address", line=text)
    proto_text = parts[4] if len(parts) > 4 and parts[4] else Protocol.NETRPC.value
    try:
        protocol = Protocol(proto_text)
    except ValueError:
        raise UnsupportedProtocolError(
            f"unsupported plugin protocol {proto_text!r}", line=text
        ) from None
    cert: bytes | None = None
    if len(parts) > 5 and len(parts[5]) > _CERT_FIELD_MIN_LEN:
        cert = _decode_cert(parts[5], text)
    multiplex: bool | None = None
    if len(parts) > 6:
        try:
            multiplex = parse_go_bool(parts[6])
        except ValueError:
            raise HandshakeError(
                f"error parsing multiplexing support: {parts[6]!r} is not a boolean", line=text
            ) from None
    return Handshake(core, app, network, address, protocol, cert, multiplex)


def _parse_int(field: str, what: str, line: str) -> int:
    try:
        return int(field, 10)
    except ValueError:
        raise HandshakeError(f"error parsing {what}: {field!r} is not an integer", line=line)


def _decode_cert(field: str, line: str) -> bytes:
    padded = field + "=" * (-len(field) % 4)
    try:
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise HandshakeError(
            "error parsing server certificate: not raw standard base64", line=line
        ) from None


def check_handshake(
    handshake: Handshake,
    *,
    host_versions: Iterable[int],
    allowed_protocols: Iterable[Protocol],
    multiplex_requested: bool = False,
) -> None:
    """The host's checks after parsing: app version, protocol, multiplexing (client.go)."""
    versions = sorted(set(host_versions))
    if handshake.app_version not in versions:
        raise IncompatibleVersionError(
            f"Incompatible API version with plugin. Plugin version: {handshake.app_version}, "
            f"Client versions: {versions}",
            plugin_version=handshake.app_version,
            host_versions=versions,
            line=handshake.format(),
        )
    allowed = list(allowed_protocols)
    if handshake.protocol not in allowed:
        raise UnsupportedProtocolError(
            f"Unsupported plugin protocol {handshake.protocol.value!r}. "
            f"Supported: {[p.value for p in allowed]}",
            line=handshake.format(),
        )
    if multiplex_requested and handshake.protocol is Protocol.GRPC and not handshake.multiplex:
        raise HandshakeError(
            "The host requested gRPC broker multiplexing but the plugin does not support it; "
            "the plugin needs a newer go-plugin (>= v1.6.0)",
            line=handshake.format(),
        )


def host_environment(
    handshake: HandshakeConfig,
    versions: Iterable[int],
    *,
    base: Mapping[str, str] | None,
    min_port: int = 10000,
    max_port: int = 25000,
    multiplex: bool = False,
    client_cert_pem: str | None = None,
    unix_socket_dir: str | None = None,
    unix_socket_group: str | None = None,
) -> dict[str, str]:
    """The environment a host gives its plugin, in go-plugin's order (later keys win)."""
    env = dict(base or {})
    env[handshake.magic_cookie_key] = handshake.magic_cookie_value
    env[ENV_MIN_PORT] = str(min_port)
    env[ENV_MAX_PORT] = str(max_port)
    env[ENV_PROTOCOL_VERSIONS] = ",".join(str(v) for v in sorted(set(versions)))
    if multiplex:
        env[ENV_MULTIPLEX_GRPC] = "true"
    if client_cert_pem:
        env[ENV_CLIENT_CERT] = client_cert_pem
    if unix_socket_group:
        env[ENV_UNIX_SOCKET_GROUP] = unix_socket_group
    if unix_socket_dir:
        env[ENV_UNIX_SOCKET_DIR] = unix_socket_dir
    return env


def parse_protocol_versions(value: str) -> tuple[list[int], list[str]]:
    """``PLUGIN_PROTOCOL_VERSIONS`` → (versions, the entries Go would skip as invalid)."""
    versions: list[int] = []
    invalid: list[str] = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            versions.append(int(item, 10))
        except ValueError:
            invalid.append(item)
    return versions, invalid


def negotiate_plugin_version(
    host_versions: Iterable[int], plugin_versions: Iterable[int]
) -> tuple[int, bool]:
    """The plugin side's choice: the highest version both offer.

    Returns ``(version, agreed)``. With nothing in common, go-plugin advertises its *lowest*
    version so that the host, which knows both lists, reports the mismatch; we do the same and
    let the caller log why (``agreed`` is False).
    """
    offered = sorted(set(plugin_versions), reverse=True)
    if not offered:
        raise ValueError("the plugin offers no protocol version")
    wanted = set(host_versions)
    for version in offered:
        if version in wanted:
            return version, True
    return offered[-1], False
