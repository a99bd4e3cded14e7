"""The well-behaved part of fault_plugin.py: the KV contract as "kv", whose ``Get`` runs the
call fault a key ``fault:name[:arg]`` names."""

from __future__ import annotations

import asyncio
from typing import Any

from faults import call_fault
from faults._threads import on_daemon_thread
from gen.kv import kv_goplugin, kv_pb2

import goplugin
import goplugin.aio

HANDSHAKE = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")


class _Store:
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def put(self, request: kv_pb2.PutRequest) -> kv_pb2.Empty:
        self.data[request.key] = request.value
        return kv_pb2.Empty()

    def get(self, request: kv_pb2.GetRequest, context: Any) -> kv_pb2.GetResponse:
        if request.key.startswith("fault:"):
            name, _, arg = request.key.removeprefix("fault:").partition(":")
            return kv_pb2.GetResponse(value=call_fault(name)(arg, context))
        return kv_pb2.GetResponse(value=self.data.get(request.key, b""))


class KV(kv_goplugin.KVServicer):
    def __init__(self) -> None:
        self.store = _Store()

    def put(self, request: kv_pb2.PutRequest, context: Any) -> kv_pb2.Empty:
        return self.store.put(request)

    def get(self, request: kv_pb2.GetRequest, context: Any) -> kv_pb2.GetResponse:
        return self.store.get(request, context)


class AsyncKV(kv_goplugin.AsyncKVServicer):
    def __init__(self) -> None:
        self.store = _Store()

    async def put(self, request: kv_pb2.PutRequest, context: Any) -> kv_pb2.Empty:
        return self.store.put(request)

    async def get(self, request: kv_pb2.GetRequest, context: Any) -> kv_pb2.GetResponse:
        return await on_daemon_thread(lambda: self.store.get(request, context))


def serve_kv(*, aio: bool) -> None:
    if aio:
        plugins = {"kv": kv_goplugin.KVPlugin(impl=AsyncKV())}
        asyncio.run(goplugin.aio.serve(handshake=HANDSHAKE, plugins=plugins))
    else:
        goplugin.serve(handshake=HANDSHAKE, plugins={"kv": kv_goplugin.KVPlugin(impl=KV())})
