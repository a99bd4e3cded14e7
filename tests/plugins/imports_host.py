"""A Python host that loads a KV plugin, makes a call, and prints every module it has run.

``python imports_host.py sync|aio PLUGIN ARGV...``: tests/interop/test_imports.py checks the
printed list (one comma-separated line) for what a host loads that it does not need. Imports
are in the order the examples use: the generated glue (which imports goplugin) before grpc.
"""

from __future__ import annotations

import sys

from gen.kv import kv_goplugin, kv_pb2
from imports_plugin import HANDSHAKE, executed_modules

import goplugin


def sync_host(cmd: list[str]) -> bytes:
    plugins = {"kv": kv_goplugin.KVPlugin()}
    with goplugin.PluginClient(cmd, handshake=HANDSHAKE, plugins=plugins) as c:
        kv = c.dispense("kv")
        kv.put(kv_pb2.PutRequest(key="k", value=b"v"))
        return bytes(kv.get(kv_pb2.GetRequest(key="k")).value)


async def aio_host(cmd: list[str]) -> bytes:
    import goplugin.aio

    plugins = {"kv": kv_goplugin.KVPlugin()}
    async with goplugin.aio.PluginClient(cmd, handshake=HANDSHAKE, plugins=plugins) as c:
        kv = await c.dispense("kv")
        await kv.put(kv_pb2.PutRequest(key="k", value=b"v"))
        return bytes((await kv.get(kv_pb2.GetRequest(key="k"))).value)


if __name__ == "__main__":
    flavour, cmd = sys.argv[1], sys.argv[2:]
    if flavour == "aio":
        import asyncio

        value = asyncio.run(aio_host(cmd))
    else:
        value = sync_host(cmd)
    print(f"value={value.decode(errors='replace')}")
    print(f"modules={executed_modules()}")
