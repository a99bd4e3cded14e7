"""The Python KV plugin of the benchmark: examples-py/kv_plugin.py without its per-call logs.

It does what go-plugin's plugin-python and examples-go/cmd/kv-plugin do per call (one file
read for Get), and nothing more, so the rows compare the plumbing and not the bodies.
With ``--tcp`` it listens on 127.0.0.1 like go-plugin's plugin-python, instead of the default
private unix socket: the transport is the one other difference between the two.
``--engine=grpcio|pure`` picks the serving engine. grpc is imported only for the type
annotations and a missing key, as a plugin that cares about start-up on the pure engine does.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from gen.kv import kv_goplugin, kv_pb2

import goplugin

if TYPE_CHECKING:
    import grpc


class Store(kv_goplugin.KVServicer):
    def put(self, request: kv_pb2.PutRequest, context: grpc.ServicerContext) -> kv_pb2.Empty:
        with open("kv_" + request.key, "wb") as f:
            f.write(request.value)
        return kv_pb2.Empty()

    def get(self, request: kv_pb2.GetRequest, context: grpc.ServicerContext) -> kv_pb2.GetResponse:
        try:
            with open("kv_" + request.key, "rb") as f:
                return kv_pb2.GetResponse(value=f.read())
        except FileNotFoundError:
            import grpc

            context.abort(grpc.StatusCode.NOT_FOUND, f"no key {request.key!r}")


if __name__ == "__main__":
    goplugin.serve(
        handshake=goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello"),
        plugins={"kv": kv_goplugin.KVPlugin(impl=Store())},
        force_tcp="--tcp" in sys.argv[1:],
        engine=next((a[9:] for a in sys.argv[1:] if a.startswith("--engine=")), None),
    )
