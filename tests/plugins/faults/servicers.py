"""Servicers written the ways plugin authors get them wrong, each served instead of the KV.

Each start fault serves its broken servicer itself (with ``goplugin.serve``, or
``goplugin.aio.serve`` under ``GOPLUGIN_FAULT_FLAVOUR=aio``) and never returns: serve() must
refuse it before the handshake line, so the host sees the plugin fail to start, with a message
that names the method or class.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from gen.counter import counter_goplugin, counter_pb2
from gen.kv import kv_goplugin, kv_pb2

import goplugin
import goplugin.aio

from . import start

HANDSHAKE = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")


def _serve(impl: Any) -> None:
    plugins = {"kv": kv_goplugin.KVPlugin(impl=impl)}
    if os.environ.get("GOPLUGIN_FAULT_FLAVOUR") == "aio":
        asyncio.run(goplugin.aio.serve(handshake=HANDSHAKE, plugins=plugins))
    else:
        goplugin.serve(handshake=HANDSHAKE, plugins=plugins)
    raise SystemExit(0)


class PascalKV(kv_goplugin.KVServicer):
    def Get(self, request: kv_pb2.GetRequest, context: Any) -> kv_pb2.GetResponse:
        return kv_pb2.GetResponse(value=b"PascalKV")


class AsyncPascalKV(kv_goplugin.AsyncKVServicer):
    async def Get(self, request: kv_pb2.GetRequest, context: Any) -> kv_pb2.GetResponse:
        return kv_pb2.GetResponse(value=b"AsyncPascalKV")


@start("servicer-pascal-case")
def pascal_case() -> None:
    """``def Get`` where the generated servicer names it ``get``."""
    aio = os.environ.get("GOPLUGIN_FAULT_FLAVOUR") == "aio"
    _serve(AsyncPascalKV() if aio else PascalKV())


class AsyncDefKV(kv_goplugin.KVServicer):
    async def get(self, request: kv_pb2.GetRequest, context: Any) -> kv_pb2.GetResponse:  # type: ignore[override]
        return kv_pb2.GetResponse(value=b"AsyncDefKV")


@start("servicer-async-def-in-sync")
def async_def_in_sync() -> None:
    _serve(AsyncDefKV())


class PlainDefKV(kv_goplugin.AsyncKVServicer):
    def get(self, request: kv_pb2.GetRequest, context: Any) -> kv_pb2.GetResponse:  # type: ignore[override]
        return kv_pb2.GetResponse(value=b"PlainDefKV")


@start("servicer-plain-def-in-async")
def plain_def_in_async() -> None:
    """Meant for GOPLUGIN_FAULT_FLAVOUR=aio."""
    _serve(PlainDefKV())


class KV(kv_goplugin.KVServicer):
    def get(self, request: kv_pb2.GetRequest, context: Any) -> kv_pb2.GetResponse:
        return kv_pb2.GetResponse(value=b"KV")


@start("servicer-class")
def servicer_class() -> None:
    """``KVPlugin(impl=KV)``: the class, not an instance."""
    _serve(KV)


class Counter(counter_goplugin.CounterServicer):
    def get(
        self, request: counter_pb2.CounterGetRequest, context: Any
    ) -> counter_pb2.CounterGetResponse:
        return counter_pb2.CounterGetResponse(value=1)


@start("servicer-other-service")
def other_service() -> None:
    """A Counter servicer given to the KV plugin."""
    _serve(Counter())
