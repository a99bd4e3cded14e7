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

from ._protocol import BENCH_KEY, BENCH_VALUE

__all__ = ["CONTRACTS", "Contract", "blob_event", "greet"]


@dataclass(frozen=True)
class Contract:
    handshake: goplugin.HandshakeConfig
    name: str
    plugin: Any


CONTRACTS = {
    "kv": Contract(
        goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello"), "kv", kv_goplugin.KVPlugin()
    ),
    "streaming": Contract(
        goplugin.HandshakeConfig(1, "STREAMING_PLUGIN", "events"),
        "streamer",
        streaming_goplugin.StreamerPlugin(),
    ),
    # TODO(net/rpc): PluginClient cannot dispense net/rpc plugins yet; until it can, the
    # greeter driver fails at start and the runner shows its row as n/a. The plugin object
    # below is all the net/rpc client needs once it lands (see greet()).
    "greeter": Contract(goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello"), "greeter", object()),
}

GET = kv_pb2.GetRequest(key=BENCH_KEY)
PUT = kv_pb2.PutRequest(key=BENCH_KEY, value=BENCH_VALUE)


def blob_event(size: int) -> streaming_pb2.Event:
    return streaming_pb2.Event(seq=1, blob=bytes(size))


def greet(greeter: Any) -> Any:
    """One Plugin.Greet call on whatever the net/rpc dispense returns.

    TODO(net/rpc): adapt to the net/rpc client API when PluginClient gains it.
    """
    if hasattr(greeter, "greet"):
        return greeter.greet()
    return greeter.call("Plugin.Greet", None)
