"""Handshake errors quote a bounded part of what the plugin wrote, and name the likely cause."""

from __future__ import annotations

import pytest

from goplugin import HandshakeConfig
from goplugin._protocol.handshake import magic_cookie_mismatch, parse_handshake
from goplugin.errors import HandshakeError, MagicCookieError, PluginExitedError


@pytest.mark.parametrize(
    "line",
    ["x" * 65536, "1|" + "9" * 100_000 + "|unix|/p|grpc", "1|1|" + "u" * 70_000 + "|/p|grpc"],
)
def test_messages_quote_a_bounded_prefix_and_say_how_long(line: str) -> None:
    with pytest.raises(HandshakeError) as info:
        parse_handshake(line)
    message = str(info.value)
    assert len(message) < 700, message
    assert "characters)" in message
    assert info.value.line == line  # the whole line stays available


def test_hints_for_go_and_python_plugins() -> None:
    with pytest.raises(HandshakeError, match="not compiled for this architecture"):
        parse_handshake("hello")
    with pytest.raises(HandshakeError, match=r"print\(\)") as info:
        parse_handshake("hello", python_plugin=True)
    assert "compiled" not in str(info.value)


def test_a_refused_cookie_is_recognised() -> None:
    config = HandshakeConfig(1, "BASIC_PLUGIN", "goodbye")
    go_tail = [
        "This binary is a plugin. These are not meant to be executed directly.",
        "Please execute the program that consumes these plugins, which will",
        "load any plugins automatically",
    ]
    error = magic_cookie_mismatch(config, go_tail, returncode=1)
    assert isinstance(error, MagicCookieError)
    assert isinstance(error, PluginExitedError) and isinstance(error, HandshakeError)
    assert error.sent == ("BASIC_PLUGIN", "goodbye") and error.expected is None
    assert error.stderr_tail == tuple(go_tail) and error.returncode == 1
    assert str(error).startswith("magic cookie mismatch: the plugin refused the host's cookie")
    python_tail = [
        *go_tail,
        "goplugin: this plugin expects the magic cookie BASIC_PLUGIN=hello "
        "(the host sent BASIC_PLUGIN=goodbye)",
    ]
    error = magic_cookie_mismatch(config, python_tail, returncode=1)
    assert error is not None and error.expected == ("BASIC_PLUGIN", "hello")
    assert str(error).startswith(
        "magic cookie mismatch: the plugin expects BASIC_PLUGIN=hello / host sent "
        "BASIC_PLUGIN=goodbye"
    )
    assert magic_cookie_mismatch(config, ["missing config"], returncode=1) is None
