"""The handshake line, launch environment and version negotiation, without processes."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goplugin._protocol.handshake import (
    Handshake,
    HandshakeConfig,
    Protocol,
    check_handshake,
    host_environment,
    negotiate_plugin_version,
    parse_go_bool,
    parse_go_int,
    parse_handshake,
    parse_protocol_versions,
)
from goplugin._transport.mtls import generate_identity
from goplugin.errors import HandshakeError, IncompatibleVersionError, UnsupportedProtocolError

CERTS = [generate_identity(curve).cert_der for curve in ("P-256", "P-384", "P-521")]
CERT = CERTS[-1]  # what a Go plugin announces: a P-521 certificate


def test_go_grpc_plugin_line() -> None:
    hs = parse_handshake("1|1|unix|/tmp/plugin1521687328|grpc|\n")
    assert hs == Handshake(1, 1, "unix", "/tmp/plugin1521687328", Protocol.GRPC, None, None)


def test_netrpc_is_the_default_protocol_and_five_fields_are_legal() -> None:
    assert parse_handshake("1|3|tcp|127.0.0.1:1234").protocol is Protocol.NETRPC
    assert parse_handshake("1|1|tcp|127.0.0.1:1234|grpc").server_cert is None


def test_certificate_is_raw_std_base64_of_der() -> None:
    field = base64.b64encode(CERT).decode().rstrip("=")
    hs = parse_handshake(f"1|5|tcp|127.0.0.1:10000|grpc|{field}")
    assert hs.server_cert == CERT
    assert hs.format() == f"1|5|tcp|127.0.0.1:10000|grpc|{field}"


def test_short_certificate_field_is_ignored_like_go() -> None:
    assert parse_handshake("1|1|unix|/s|grpc|c2hvcnQ").server_cert is None


def test_multiplex_field() -> None:
    assert parse_handshake("1|1|unix|/s|grpc||true").multiplex is True
    assert parse_handshake("1|1|unix|/s|grpc||0").multiplex is False
    # Not a Go bool: only a host that asked for multiplexing minds (and refuses it).
    odd = parse_handshake("1|1|unix|/s|grpc||yes")
    assert (odd.multiplex, odd.multiplex_field) == (None, "yes")
    assert odd.format() == "1|1|unix|/s|grpc||yes"
    check_handshake(odd, host_versions=[1], allowed_protocols=[Protocol.GRPC])
    with pytest.raises(HandshakeError, match="'yes' as a boolean"):
        check_handshake(
            odd, host_versions=[1], allowed_protocols=[Protocol.GRPC], multiplex_requested=True
        )
    netrpc = parse_handshake("1|1|unix|/s|netrpc||yes")
    check_handshake(
        netrpc, host_versions=[1], allowed_protocols=[Protocol.NETRPC], multiplex_requested=True
    )


def test_integers_are_go_atoi() -> None:
    assert [parse_go_int(t) for t in ("1", "+1", "-1", "007")] == [1, 1, -1, 7]
    for text in (" 1", "1 ", "1_0", "", "+", "\u0661", "0x1", str(2**63)):
        with pytest.raises(ValueError):
            parse_go_int(text)
    assert parse_handshake("+1|01|unix|/s|grpc|").app_version == 1
    with pytest.raises(HandshakeError, match="app protocol version"):
        parse_handshake("1|0_1|unix|/s|grpc|")


def test_an_empty_protocol_field_is_not_netrpc() -> None:
    with pytest.raises(UnsupportedProtocolError, match="''"):
        parse_handshake("1|1|unix|/s||")


@pytest.mark.parametrize("address", ["127.0.0.1:1", ":1234", "[::1]:65535", "localhost:80"])
def test_tcp_addresses_go_accepts(address: str) -> None:
    assert parse_handshake(f"1|1|tcp|{address}|grpc|").address == address


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "127.0.0.1:", "127.0.0.1:http", "::1:80", "[::1]", "h:65536"]
)
def test_tcp_addresses_we_refuse(address: str) -> None:
    with pytest.raises(HandshakeError, match=r"port|colons"):
        parse_handshake(f"1|1|tcp|{address}|grpc|")


def test_certificate_must_be_unpadded_base64_of_a_certificate() -> None:
    padded = base64.b64encode(CERT + b"\0" * (1 if len(CERT) % 3 == 0 else 0)).decode()
    assert padded.endswith("=")
    with pytest.raises(HandshakeError, match="illegal base64"):
        parse_handshake(f"1|1|unix|/s|grpc|{padded}")
    not_a_cert = base64.b64encode(b"\x30\x03\x02\x01\x01" * 20).decode().rstrip("=")
    with pytest.raises(HandshakeError, match="x509"):
        parse_handshake(f"1|1|unix|/s|grpc|{not_a_cert}")


@pytest.mark.parametrize(
    ("line", "error", "match"),
    [
        ("", HandshakeError, "Unrecognized remote plugin message"),
        ("hello world", HandshakeError, "Unrecognized remote plugin message"),
        ("1|1|unix", HandshakeError, "Unrecognized"),
        ("x|1|unix|/s|grpc|", HandshakeError, "core protocol version"),
        ("2|1|unix|/s|grpc|", IncompatibleVersionError, "core API version"),
        ("1|one|unix|/s|grpc|", HandshakeError, "app protocol version"),
        ("1|1|udp|/s|grpc|", HandshakeError, "unknown address type"),
        ("1|1|unix||grpc|", HandshakeError, "empty address"),
        ("1|1|unix|/s|http|", UnsupportedProtocolError, "unsupported plugin protocol"),
        ("1|1|unix|/s|grpc|" + "!" * 60, HandshakeError, "server cert"),
        (b"\xff\xfe|1", HandshakeError, "UTF-8"),
    ],
)
def test_malformed_lines_raise_typed_errors(line: str | bytes, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        parse_handshake(line)


def test_host_checks_version_protocol_and_mux() -> None:
    hs = parse_handshake("1|3|unix|/s|grpc|")
    check_handshake(hs, host_versions=[1, 3], allowed_protocols=[Protocol.GRPC])
    with pytest.raises(IncompatibleVersionError) as info:
        check_handshake(hs, host_versions=[1, 2], allowed_protocols=[Protocol.GRPC])
    assert info.value.plugin_version == 3
    assert info.value.host_versions == (1, 2)
    assert "Plugin version: 3, Client versions: [1, 2]" in str(info.value)
    with pytest.raises(UnsupportedProtocolError, match="Supported: \\['netrpc'\\]"):
        check_handshake(hs, host_versions=[3], allowed_protocols=[Protocol.NETRPC])
    with pytest.raises(HandshakeError, match="multiplexing"):
        check_handshake(
            hs, host_versions=[3], allowed_protocols=[Protocol.GRPC], multiplex_requested=True
        )


def test_host_environment_matches_go_client() -> None:
    config = HandshakeConfig(5, "TF_PLUGIN_MAGIC_COOKIE", "d602bf8f")
    env = host_environment(
        config,
        [5, 3, 5],
        base={"PATH": "/bin", "PLUGIN_MIN_PORT": "1"},
        multiplex=True,
        client_cert_pem="-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n",
        unix_socket_dir="/run/p",
        unix_socket_group="plugins",
    )
    assert env == {
        "PATH": "/bin",
        "TF_PLUGIN_MAGIC_COOKIE": "d602bf8f",
        "PLUGIN_MIN_PORT": "10000",
        "PLUGIN_MAX_PORT": "25000",
        "PLUGIN_PROTOCOL_VERSIONS": "3,5",
        "PLUGIN_MULTIPLEX_GRPC": "true",
        "PLUGIN_CLIENT_CERT": "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n",
        "PLUGIN_UNIX_SOCKET_GROUP": "plugins",
        "PLUGIN_UNIX_SOCKET_DIR": "/run/p",
    }


def test_handshake_config_needs_a_cookie() -> None:
    with pytest.raises(ValueError, match="magic cookie"):
        HandshakeConfig(1, "", "x")


def test_plugin_side_negotiation() -> None:
    assert negotiate_plugin_version([1, 2], [2, 3]) == (2, True)
    assert negotiate_plugin_version([5, 3, 4], [3, 4, 5, 6]) == (5, True)
    # Nothing in common: go-plugin announces its lowest version and lets the host refuse.
    assert negotiate_plugin_version([1], [3, 2]) == (2, False)
    assert negotiate_plugin_version([], [4]) == (4, False)
    # strconv.Atoi on each entry as it stands: " 4" and "" are invalid, "+4" is 4.
    assert parse_protocol_versions("3,x,,5, 4,+4") == ([3, 5, 4], ["x", "", " 4"])
    assert parse_protocol_versions("") == ([], [])


def test_go_bools() -> None:
    for text in ("1", "t", "T", "TRUE", "true", "True"):
        assert parse_go_bool(text) is True
    for text in ("0", "f", "F", "FALSE", "false", "False"):
        assert parse_go_bool(text) is False
    with pytest.raises(ValueError):
        parse_go_bool("yes")


addresses = st.text(
    st.characters(blacklist_characters="|\n\r\t ", blacklist_categories=("Cs", "Zs", "Cc")),
    min_size=1,
    max_size=80,
)


tcp_addresses = st.builds(
    lambda host, port: f"{host}:{port}",
    st.sampled_from(["127.0.0.1", "", "[::1]", "localhost"]),
    st.integers(0, 65535),
)


@given(
    app=st.integers(0, 2**31),
    where=st.tuples(st.just("unix"), addresses) | st.tuples(st.just("tcp"), tcp_addresses),
    protocol=st.sampled_from(list(Protocol)),
    cert=st.none() | st.sampled_from(CERTS),
    multiplex=st.none() | st.booleans(),
)
def test_format_then_parse_round_trips(
    app: int,
    where: tuple[str, str],
    protocol: Protocol,
    cert: bytes | None,
    multiplex: bool | None,
) -> None:
    hs = Handshake(1, app, *where, protocol, cert, multiplex)
    assert parse_handshake(hs.format() + "\n") == hs


@given(st.binary(max_size=300) | st.text(max_size=300))
def test_any_input_gives_a_handshake_or_a_typed_error(line: bytes | str) -> None:
    try:
        hs = parse_handshake(line)
    except HandshakeError:
        return
    assert hs.core_version == 1
    assert hs.network in ("unix", "tcp")
