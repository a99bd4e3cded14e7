"""The plugin side's reading of its host's environment (``_plugin/config.py``), no processes."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from goplugin import HandshakeConfig
from goplugin._plugin.config import make_serve_config
from goplugin.plugin import GRPCPlugin

HANDSHAKE = HandshakeConfig(1, "BASIC_PLUGIN", "hello")
COOKIE = {"BASIC_PLUGIN": "hello"}


class _Plugin(GRPCPlugin[Any, Any]):
    def grpc_server(self, broker: object, server: object) -> None:
        pass

    def grpc_client(self, broker: object, channel: object) -> object:
        return None


SETS = {2: {"kv": _Plugin()}, 3: {"kv": _Plugin()}}


def _config(environ: dict[str, str]) -> int:
    config = make_serve_config(
        handshake=HANDSHAKE,
        plugins=None,
        versioned_plugins=SETS,
        grpc_options=[],
        force_tcp=False,
        environ={**COOKIE, **environ},
    )
    return config.version


def test_a_host_without_a_version_list_gets_the_lowest_version_silently(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # go-plugin's protocolVersion(): no PLUGIN_PROTOCOL_VERSIONS is a legacy host, served the
    # lowest version without complaint; it is not a host that offers an empty list.
    caplog.set_level(logging.DEBUG, logger="goplugin")
    assert _config({}) == 2
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert "host offers []" not in caplog.text


def test_a_mismatch_with_a_host_that_offers_versions_is_logged_with_both_lists(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert _config({"PLUGIN_PROTOCOL_VERSIONS": "5,6"}) == 2
    (record,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "the host offers [5, 6], this plugin offers [2, 3]" in record.getMessage()


def test_the_highest_common_version_wins() -> None:
    assert _config({"PLUGIN_PROTOCOL_VERSIONS": "1,2,3"}) == 3
