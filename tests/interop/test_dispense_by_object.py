"""``dispense(plugin_object)``: the typed way to dispense, against go-plugin's own Go plugins.

Every pairing (sync and asyncio host, gRPC and net/rpc plugin) hands out what the name would
have, for the object of the negotiated set; tests/unit/test_typed_dispense.py shows mypy sees
the flavour's client type. An object that is not in the set is a clear error, not a guess.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import EXAMPLE_HANDSHAKE
from gen.kv import kv_goplugin, kv_pb2

import goplugin
import goplugin.aio
from goplugin import netrpc
from goplugin.errors import PluginError
from goplugin.netrpc import gob

pytestmark = pytest.mark.interop


class Greeter:
    def __init__(self, client: netrpc.Client) -> None:
        self.client = client

    def greet(self) -> str:
        reply = self.client.call("Plugin.Greet", None, gob.STRING, timeout=10)
        assert isinstance(reply, str)
        return reply


def test_sync_host(go_kv_plugin: Path, go_greeter_plugin: Path, workdir: Path) -> None:
    kv_plugin, other = kv_goplugin.KVPlugin(), kv_goplugin.KVPlugin()
    with goplugin.PluginClient(
        [go_kv_plugin], handshake=EXAMPLE_HANDSHAKE, plugins={"kv": kv_plugin}
    ) as client:
        kv = client.dispense(kv_plugin)
        assert isinstance(kv, kv_goplugin.KVClient)
        kv.put(kv_pb2.PutRequest(key="k", value=b"v"), timeout=10)
        assert kv.get(kv_pb2.GetRequest(key="k"), timeout=10).value.startswith(b"v\n\n")
        assert kv.broker is client.broker
        with pytest.raises(PluginError, match=r"not in the plugin set .* version 1 .*'kv'"):
            client.dispense(other)
    greeter_plugin, raw_plugin = netrpc.Plugin(client=Greeter), netrpc.Plugin()
    plugins = {"greeter": greeter_plugin, "raw": raw_plugin}
    with goplugin.PluginClient(
        [go_greeter_plugin], handshake=EXAMPLE_HANDSHAKE, plugins=plugins
    ) as client:
        assert client.dispense(greeter_plugin).greet() == "Hello!"
        with pytest.raises(PluginError, match="unknown plugin type"):
            client.dispense(raw_plugin)  # asked for by its name, which the Go plugin lacks


async def test_asyncio_host(go_kv_plugin: Path, go_greeter_plugin: Path, workdir: Path) -> None:
    kv_plugin = kv_goplugin.KVPlugin()
    async with goplugin.aio.PluginClient(
        [go_kv_plugin], handshake=EXAMPLE_HANDSHAKE, plugins={"kv": kv_plugin, "kv2": kv_plugin}
    ) as client:
        with pytest.raises(PluginError, match=r"several names \('kv', 'kv2'\)"):
            await client.dispense(kv_plugin)
        kv = await client.dispense("kv2")
        assert isinstance(kv, kv_goplugin.AsyncKVClient)
        await kv.put(kv_pb2.PutRequest(key="k", value=b"v"), timeout=10)
    raw_plugin = netrpc.Plugin()
    async with goplugin.aio.PluginClient(
        [go_greeter_plugin], handshake=EXAMPLE_HANDSHAKE, plugins={"greeter": raw_plugin}
    ) as client:
        greeter = await client.dispense(raw_plugin)
        assert isinstance(greeter, netrpc.AsyncClient)
        assert await greeter.call("Plugin.Greet", None, gob.STRING, timeout=10) == "Hello!"
