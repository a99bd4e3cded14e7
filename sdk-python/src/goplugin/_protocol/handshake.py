"""Sans-IO handshake: the plugin's first stdout line, the launch environment, version negotiation.

Everything here is a pure function over strings and mappings, so both sides (host and plugin)
and both flavours (sync and asyncio) share one implementation and it is tested without processes.
The rules mirror go-plugin v1.8.0's ``client.go`` (``Start``) and ``server.go`` (``Serve``).
"""

from __future__ import annotations

import base64
import binascii
import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ..errors import (
    HandshakeError,
    IncompatibleVersionError,
    MagicCookieError,
    UnsupportedProtocolError,
)

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
    "NOT_A_PLUGIN",
    "Handshake",
    "HandshakeConfig",
    "Protocol",
    "check_handshake",
    "host_environment",
    "magic_cookie_mismatch",
    "negotiate_plugin_version",
    "parse_go_bool",
    "parse_go_int",
    "parse_handshake",
    "quote",
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

# How much of a line or field an error message quotes: a garbage line may be 64 KiB long.
_QUOTED_CHARS = 200

# go-plugin's first line when the cookie is wrong (server.go), which our plugins print too, and
# the line a goplugin Python plugin adds when a host launched it (see _plugin/config.py).
NOT_A_PLUGIN = "This binary is a plugin. These are not meant to be executed directly."
_EXPECTS_COOKIE = re.compile(r"this plugin expects the magic cookie ([^=\s]+)=(\S*)")

_GO_HINT = (
    "This usually means the plugin was not compiled for this architecture, "
    "the plugin is missing dynamic-link libraries necessary to run, "
    "or it is not a go-plugin plugin"
)
_PYTHON_HINT = (
    "The plugin is a Python program that wrote to stdout before goplugin.serve() printed the "
    "handshake line: before serve(), send output to sys.stderr or use logging instead of "
    "print() (once serve() runs, print() reaches the host's log)"
)

# strconv.Atoi: an optional sign and ASCII digits, nothing else (no spaces, no underscores).
_GO_INT = re.compile(r"[+-]?[0-9]+")
_INT64_MAX = (1 << 63) - 1

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
    #: The 7th field: ``None`` when absent (or not a Go bool), else whether the plugin
    #: multiplexes the broker.
    multiplex: bool | None = None
    #: The 7th field as written, when there is one: a host that asked for multiplexing
    #: refuses a field that is not a Go bool; any other host ignores the field, as Go does.
    multiplex_field: str | None = field(default=None, compare=False, repr=False)

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
        if self.multiplex_field is not None:
            fields.append(self.multiplex_field)
        elif self.multiplex is not None:
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


def quote(text: str, limit: int = _QUOTED_CHARS) -> str:
    """``repr(text)``, of at most ``limit`` characters of it, saying how long it was."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text)} characters)"


def parse_handshake(line: str | bytes, *, python_plugin: bool = False) -> Handshake:
    """Parse a handshake line, raising :class:`HandshakeError` for anything Go would refuse.

    Like go-plugin's host (client.go ``Start``): surrounding whitespace is ignored; integers
    are ``strconv.Atoi``'s (a sign and ASCII digits only); the protocol defaults to ``netrpc``
    only when the field is absent (an empty one is refused); a TCP address needs a numeric
    port; the certificate field is read only when it is longer than 50 characters, and must
    then be unpadded standard base64 of a DER certificate. The 7th field is kept as written
    and judged by :func:`check_handshake`, and only for a host that asked for multiplexing.
    Messages quote at most 200 characters of the line. ``python_plugin`` picks the hint for a
    line that is no handshake at all: a stray ``print()`` rather than a foreign binary.
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
            f"Unrecognized remote plugin message: {quote(text)}\n"
            + (_PYTHON_HINT if python_plugin else _GO_HINT),
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
        raise HandshakeError(f"unknown address type: {quote(f'{network}:{address}')}", line=text)
    if not address:
        raise HandshakeError("the plugin announced an empty address", line=text)
    if network == "tcp":
        _check_tcp_address(address, text)
    proto_text = parts[4] if len(parts) > 4 else Protocol.NETRPC.value
    try:
        protocol = Protocol(proto_text)
    except ValueError:
        raise UnsupportedProtocolError(
            f"unsupported plugin protocol {quote(proto_text)}", line=text
        ) from None
    cert: bytes | None = None
    if len(parts) > 5 and len(parts[5]) > _CERT_FIELD_MIN_LEN:
        cert = _decode_cert(parts[5], text)
    multiplex: bool | None = None
    mux_field: str | None = None
    if len(parts) > 6:
        mux_field = parts[6]
        try:
            multiplex = parse_go_bool(mux_field)
        except ValueError:
            multiplex = None
    return Handshake(core, app, network, address, protocol, cert, multiplex, mux_field)


def parse_go_int(text: str) -> int:
    """``strconv.Atoi``: an optional sign and ASCII digits, within int64, else ValueError.

    Python's ``int()`` also takes surrounding spaces, underscores and non-ASCII digits, which
    a Go peer refuses.
    """
    if _GO_INT.fullmatch(text) is None:
        raise ValueError(f"invalid syntax: {text!r}")
    value = int(text, 10)
    if not -_INT64_MAX - 1 <= value <= _INT64_MAX:
        raise ValueError(f"value out of range: {text!r}")
    return value


def _parse_int(text: str, what: str, line: str) -> int:
    try:
        return parse_go_int(text)
    except ValueError:
        raise HandshakeError(
            f"error parsing {what}: {quote(text)} is not an integer", line=line
        ) from None


def _check_tcp_address(address: str, line: str) -> None:
    """Go resolves ``host:port`` (net.SplitHostPort rules) before it accepts the line."""
    if address.startswith("["):
        end = address.find("]")
        rest = address[end + 1 :] if end > 0 else ""
        if not rest.startswith(":"):
            raise HandshakeError(f"address {quote(address)}: missing port in address", line=line)
        port = rest[1:]
    else:
        host, colon, port = address.rpartition(":")
        if not colon:
            raise HandshakeError(f"address {quote(address)}: missing port in address", line=line)
        if ":" in host:
            raise HandshakeError(f"address {quote(address)}: too many colons in address", line=line)
    if not port.isascii() or not port.isdigit() or int(port) > 65535:
        raise HandshakeError(f"address {quote(address)}: invalid port {quote(port)}", line=line)


def _decode_cert(text: str, line: str) -> bytes:
    # base64.RawStdEncoding: no '=' at all; Go's decoder skips CR and LF.
    data = text.replace("\r", "").replace("\n", "")
    if "=" in data:
        raise HandshakeError(
            "error parsing server cert: illegal base64 data (padded; Go wants it unpadded)",
            line=line,
        )
    try:
        der = base64.b64decode(data + "=" * (-len(data) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise HandshakeError(
            "error parsing server cert: illegal base64 data (not raw standard base64)",
            line=line,
        ) from None
    from ..errors import TLSError
    from .x509 import certificate_curve  # only for hosts that meet a certificate

    try:
        certificate_curve(der)
    except (TLSError, ValueError) as exc:
        raise HandshakeError(f"error parsing server cert: x509: {exc}", line=line) from None
    return der


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
    if multiplex_requested and handshake.protocol is Protocol.GRPC:
        raw = handshake.multiplex_field
        if raw is not None and handshake.multiplex is None:
            raise HandshakeError(
                f"error parsing {quote(raw)} as a boolean for gRPC broker multiplexing support",
                line=handshake.format(),
            )
        if not handshake.multiplex:
            raise HandshakeError(
                "The host requested gRPC broker multiplexing but the plugin does not support "
                "it; the plugin needs a newer go-plugin (>= v1.6.0)",
                line=handshake.format(),
            )


def magic_cookie_mismatch(
    handshake: HandshakeConfig, stderr_tail: Sequence[str], *, returncode: int | None
) -> MagicCookieError | None:
    """The error for a plugin that exited refusing the host's cookie, recognised by go-plugin's
    "This binary is a plugin" message in its stderr; None for any other early exit."""
    if not any(line.startswith(NOT_A_PLUGIN) for line in stderr_tail):
        return None
    sent = (handshake.magic_cookie_key, handshake.magic_cookie_value)
    expected: tuple[str, str] | None = None
    for line in stderr_tail:
        match = _EXPECTS_COOKIE.search(line)
        if match is not None:
            expected = (match[1], match[2])
    if expected is not None:
        why = f"the plugin expects {expected[0]}={expected[1]} / host sent {sent[0]}={sent[1]}"
    else:
        why = (
            f"the plugin refused the host's cookie (host sent {sent[0]}={sent[1]}); host and "
            "plugin must use the same HandshakeConfig (MagicCookieKey, MagicCookieValue)"
        )
    return MagicCookieError(
        f"magic cookie mismatch: {why}",
        sent=sent,
        expected=expected,
        returncode=returncode,
        stderr_tail=stderr_tail,
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
    """``PLUGIN_PROTOCOL_VERSIONS`` → (versions, the entries Go would skip as invalid).

    As go-plugin's ``protocolVersion``: split on commas, each entry ``strconv.Atoi``'d as it
    stands, so " 3" and "" (from "2,,3") are invalid; an empty variable offers nothing.
    """
    versions: list[int] = []
    invalid: list[str] = []
    if not value:
        return versions, invalid
    for item in value.split(","):
        try:
            versions.append(parse_go_int(item))
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
