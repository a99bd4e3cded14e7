"""What each contract means to the SDK drivers: handshake, plugin set, the call a row times.

KV is proto/kv (go-plugin's examples/grpc contract, so its hand-written plugin-python speaks
it too); streaming is proto/streaming's Streamer; greeter is go-plugin's examples/basic over
net/rpc. Glue is the generated code in examples-py/gen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gen.kv import kv_goplugin, kv_pb2
from gen.streaming import streaming_goplugin, streaming_pb2

import goplugin
from goplugin import netrpc
from goplugin.netrpc import gob

from ._protocol import BENCH_KEY, BENCH_VALUE

__all__ = ["CONTRACTS", "Contract", "blob_event", "greet"]


@dataclass(frozen=True)
class Contract:
    handshake: goplugin.HandshakeConfig
    name: str
    plugin: Any


class Greeter:
    """go-plugin's GreeterRPC: ``Plugin.Greet`` with a nil ``interface{}``, a string back.

    Over a ``netrpc.Client`` greet() returns the reply, over a ``netrpc.AsyncClient`` an
    awaitable of it, so both Python hosts share it.
    """

    __slots__ = ("_call",)

    def __init__(self, client: Any) -> None:
        self._call = client.call

    def greet(self) -> Any:
        return self._call("Plugin.Greet", None, gob.STRING, args_type=gob.INTERFACE)


CONTRACTS = {
    "kv": Contract(
        goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello"), "kv", kv_goplugin.KVPlugin()
    ),
    "streaming": Contract(
        goplugin.HandshakeConfig(1, "STREAMING_PLUGIN", "events"),
        "streamer",
        streaming_goplugin.StreamerPlugin(),
    ),
    "greeter": Contract(
        goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello"),
        "greeter",
        netrpc.Plugin(client=Greeter),
    ),
}

GET = kv_pb2.GetRequest(key=BENCH_KEY)
PUT = kv_pb2.PutRequest(key=BENCH_KEY, value=BENCH_VALUE)


def blob_event(size: int) -> streaming_pb2.Event:
    return streaming_pb2.Event(seq=1, blob=bytes(size))


def greet(greeter: Greeter) -> Any:
    """One Plugin.Greet call (awaitable under goplugin.aio)."""
    return greeter.greet()
