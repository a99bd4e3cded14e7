"""A KV plugin that reports, in answer to ``Get("modules")``, every module its process has run.

tests/interop/test_imports.py serves a call with it from a Go host and checks what a plugin
loads that it does not need (grpc.aio in a sync plugin, TLS without TLS). Imports are in the
order the examples use: the generated glue (which imports goplugin) before grpc.
``IMPORTS_PLUGIN_FLAVOUR=aio`` serves it with goplugin.aio.serve instead.
"""

from __future__ import annotations

import os
import sys

from gen.kv import kv_goplugin, kv_pb2

import goplugin

HANDSHAKE = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")


def executed_modules() -> str:
    """Modules whose code ran: a module object that never executed has no ``__builtins__``
    (extension and built-in modules are counted by their presence)."""
    names = []
    modules: dict[str, object] = dict(sys.modules)  # None for blocked imports, untyped
    for name, module in modules.items():
        if module is None:
            continue
        file = getattr(module, "__file__", None) or ""
        if "__builtins__" in vars(module) or not file.endswith(".py"):
            names.append(name)
    return ",".join(sorted(names))


class KV(kv_goplugin.KVServicer):
    def put(self, request: kv_pb2.PutRequest, context: object) -> kv_pb2.Empty:
        return kv_pb2.Empty()

    def get(self, request: kv_pb2.GetRequest, context: object) -> kv_pb2.GetResponse:
        return kv_pb2.GetResponse(value=executed_modules().encode())


class AsyncKV(kv_goplugin.AsyncKVServicer):
    async def put(self, request: kv_pb2.PutRequest, context: object) -> kv_pb2.Empty:
        return kv_pb2.Empty()

    async def get(self, request: kv_pb2.GetRequest, context: object) -> kv_pb2.GetResponse:
        return kv_pb2.GetResponse(value=executed_modules().encode())


if __name__ == "__main__":
    if os.environ.get("IMPORTS_PLUGIN_FLAVOUR") == "aio":
        import asyncio

        import goplugin.aio

        plugins = {"kv": kv_goplugin.KVPlugin(impl=AsyncKV())}
        asyncio.run(goplugin.aio.serve(handshake=HANDSHAKE, plugins=plugins))
    else:
        goplugin.serve(handshake=HANDSHAKE, plugins={"kv": kv_goplugin.KVPlugin(impl=KV())})
