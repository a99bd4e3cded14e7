"""A KV plugin in Python, serving proto/kv/kv.proto to any go-plugin host, Go or Python.

All go-plugin glue is generated (``python -m goplugin.codegen``); this file is the store.
Like go-plugin's examples/grpc plugins it keeps each key in a file ``kv_<key>`` in its working
directory, so go-plugin's own host works with it too::

    KV_PROTO=grpc KV_PLUGIN="python3 kv_plugin.py" grpc put hello world

``python3 kv_plugin.py --debug`` runs it by hand (e.g. under a debugger) and prints how hosts
attach, including the ``TF_REATTACH_PROVIDERS='...'`` line that kv_host.py reads.
"""

from __future__ import annotations

import logging
import sys

import grpc
from gen.kv import kv_goplugin, kv_pb2

import goplugin

HANDSHAKE = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")
#: The name Terraform-style hosts know this plugin by (see kv_host.py).
ADDRESS = "registry.terraform.io/goplugin/kv"
log = logging.getLogger("kv")  # goplugin.serve() sends this to the host as hclog lines


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
            # Logging reaches the host as hclog lines, at their level; not on the per-call
            # path of a successful call, where it would cost a good part of the call.
            log.warning("no such key", extra={"key": request.key})
            context.abort(grpc.StatusCode.NOT_FOUND, f"no key {request.key!r}")


if __name__ == "__main__":
    goplugin.serve(
        handshake=HANDSHAKE,
        plugins={"kv": kv_goplugin.KVPlugin(impl=Store())},
        debug="--debug" in sys.argv[1:],
        provider_address=ADDRESS,
    )
