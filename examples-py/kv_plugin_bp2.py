"""The KV plugin of kv_plugin.py written with betterproto2 dataclasses (the opt-in flavour).

Same contract, same wire: any go-plugin host runs it, go-plugin's own Go host included::

    KV_PROTO=grpc KV_PLUGIN="python3 kv_plugin_bp2.py" grpc put hello world

Only the imports differ from the default flavour: ``gen_bp2`` holds betterproto2's classes
(one module per proto package: kv.proto is package ``proto``) and ``kv_goplugin_bp2``, whose
servicer and GRPCPlugin hand grpcio the dataclasses' own encoders. Needs
``pip install 'goplugin[betterproto2]'``; betterproto2 is pure Python, so each message costs
tens of microseconds more than with the default classes (README: "Message flavours").
"""

from __future__ import annotations

import grpc
from gen_bp2 import proto as kv
from gen_bp2.kv import kv_goplugin_bp2

import goplugin

HANDSHAKE = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")


class Store(kv_goplugin_bp2.KVServicer):
    def put(self, request: kv.PutRequest, context: grpc.ServicerContext) -> kv.Empty:
        with open("kv_" + request.key, "wb") as f:
            f.write(request.value)
        return kv.Empty()

    def get(self, request: kv.GetRequest, context: grpc.ServicerContext) -> kv.GetResponse:
        try:
            with open("kv_" + request.key, "rb") as f:
                return kv.GetResponse(value=f.read())
        except FileNotFoundError:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no key {request.key!r}")


if __name__ == "__main__":
    goplugin.serve(handshake=HANDSHAKE, plugins={"kv": kv_goplugin_bp2.KVPlugin(impl=Store())})
