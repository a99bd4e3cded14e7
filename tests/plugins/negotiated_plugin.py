"""The Python twin of go-plugin's examples/negotiated plugin: app protocol version 2 is a net/rpc
KV, version 3 a gRPC KV, and the host's PLUGIN_PROTOCOL_VERSIONS picks one. The tests of
docs/protocol.md launch both with the same environments and compare their handshake lines.
"""

from __future__ import annotations

from typing import Any

import grpc
from gen.kv import kv_goplugin, kv_pb2

import goplugin
from goplugin import netrpc
from goplugin.netrpc import gob

HANDSHAKE = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")


class GRPCKV(kv_goplugin.KVServicer):
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def put(self, request: kv_pb2.PutRequest, context: grpc.ServicerContext) -> kv_pb2.Empty:
        self.data[request.key] = request.value + b"\n\nWritten from plugin version 3\n"
        return kv_pb2.Empty()

    def get(self, request: kv_pb2.GetRequest, context: grpc.ServicerContext) -> kv_pb2.GetResponse:
        return kv_pb2.GetResponse(value=self.data.get(request.key, b""))


class NetRPCKV:
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    @netrpc.method("Put", args_type=gob.MAP_STRING_ANY, reply_type=gob.INTERFACE)
    def put(self, args: dict[str, Any]) -> None:
        self.data[args["key"]] = args["value"] + b"\n\nWritten from plugin version 2\n"

    @netrpc.method("Get", args_type=gob.STRING, reply_type=gob.BYTES)
    def get(self, key: str) -> bytes:
        return self.data.get(key, b"")


def main() -> None:
    goplugin.serve(
        handshake=HANDSHAKE,
        versioned_plugins={
            2: {"kv": netrpc.Plugin(NetRPCKV())},
            3: {"kv": kv_goplugin.KVPlugin(impl=GRPCKV())},
        },
    )


if __name__ == "__main__":
    main()
