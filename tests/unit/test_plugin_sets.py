"""Plugin sets are checked where they are given: at ``PluginClient(...)`` and in ``serve()``
before anything is launched or listened on, with an error that names the entry.

Before, a class where an instance belongs (``{"kv": KVPlugin}``) or an object that is no plugin
at all (``{"kv": KVServicer()}``) went unnoticed until ``dispense()`` (host) or until grpcio
called an unbound method with the wrong arguments (plugin).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples-py"))

from gen.kv import kv_goplugin

import goplugin
import goplugin.aio
from goplugin import netrpc
from goplugin._plugin.config import make_serve_config
from goplugin.errors import PluginError

HANDSHAKE = goplugin.HandshakeConfig(1, "K", "V")
HOSTS = {"sync": goplugin.PluginClient, "aio": goplugin.aio.PluginClient}


def host_refusal(flavour: str, **sets: Any) -> str:
    with pytest.raises(TypeError) as info:
        HOSTS[flavour](["/nonexistent/plugin"], handshake=HANDSHAKE, **sets)
    assert isinstance(info.value, PluginError)
    return str(info.value)


@pytest.mark.parametrize("flavour", list(HOSTS))
def test_a_host_refuses_a_plugin_class(flavour: str) -> None:
    message = host_refusal(flavour, plugins={"kv": kv_goplugin.KVPlugin})
    assert "'kv'" in message and "class KVPlugin" in message and "KVPlugin()" in message


@pytest.mark.parametrize("flavour", list(HOSTS))
def test_a_host_refuses_what_is_no_plugin(flavour: str) -> None:
    message = host_refusal(flavour, plugins={"kv": kv_goplugin.KVServicer()})
    assert "'kv'" in message and "KVServicer" in message
    assert "grpc_client" in message and "netrpc_client" in message
    message = host_refusal(flavour, versioned_plugins={2: {"x": "kv"}})
    assert "'x'" in message and "version 2" in message


@pytest.mark.parametrize("flavour", list(HOSTS))
def test_a_host_takes_grpc_and_netrpc_plugin_objects(flavour: str) -> None:
    HOSTS[flavour](
        ["/nonexistent/plugin"], handshake=HANDSHAKE, plugins={"kv": kv_goplugin.KVPlugin()}
    )
    HOSTS[flavour](
        ["/nonexistent/plugin"], handshake=HANDSHAKE, plugins={"greeter": netrpc.Plugin()}
    )


def serve_config(plugins: Any) -> None:
    make_serve_config(
        handshake=HANDSHAKE,
        plugins=plugins,
        versioned_plugins=None,
        grpc_options=[],
        force_tcp=False,
        environ={},
    )


def test_serve_refuses_a_plugin_class_before_listening() -> None:
    with pytest.raises(TypeError) as info:
        serve_config({"kv": kv_goplugin.KVPlugin})
    assert isinstance(info.value, PluginError)
    assert "class KVPlugin" in str(info.value) and "KVPlugin(impl=...)" in str(info.value)


def test_serve_refuses_what_is_no_plugin() -> None:
    with pytest.raises(TypeError) as info:
        serve_config({"kv": kv_goplugin.KVServicer()})
    assert isinstance(info.value, PluginError)
    assert "'kv'" in str(info.value) and "grpc_server" in str(info.value)
