"""The handshake line, launch environment and version negotiation, without processes."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goplugin._handshake import (
    Handshake,
    HandshakeConfig,
    Protocol,
    check_handshake,
    host_environment,
    negotiate_plugin_version,
    parse_go_bool,
    parse_handshake,
    parse_protocol_versions,
)
from goplugin.errors import HandshakeError, IncompatibleVersionError, UnsupportedProtocolError

CERT = bytes(range(256)) * 2  # any DER-sized blob; parse_handshake does not interpret it


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
    with pytest.raises(HandshakeError, match="multiplexing"):
        parse_handshake("1|1|unix|/s|grpc||yes")


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
        ("1|1|unix|/s|grpc|" + "!" * 60, HandshakeError, "certificate"),
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
    assert parse_protocol_versions("3,x,,5") == ([3, 5], ["x"])


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


@given(
    app=st.integers(0, 2**31),
    network=st.sampled_from(["unix", "tcp"]),
    address=addresses,
    protocol=st.sampled_from(list(Protocol)),
    cert=st.none() | st.binary(min_size=40, max_size=600),
    multiplex=st.none() | st.booleans(),
)
def test_format_then_parse_round_trips(
    app: int,
    network: str,
    address: str,
    protocol: Protocol,
    cert: bytes | None,
    multiplex: bool | None,
) -> None:
    hs = Handshake(1, app, network, address, protocol, cert, multiplex)
    assert parse_handshake(hs.format() + "\n") == hs


@given(st.binary(max_size=300) | st.text(max_size=300))
def test_any_input_gives_a_handshake_or_a_typed_error(line: bytes | str) -> None:
    try:
        hs = parse_handshake(line)
    except HandshakeError:
        return
    assert hs.core_version == 1
    assert hs.network in ("unix", "tcp")
