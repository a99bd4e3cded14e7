"""A Python KV plugin of go-plugin's examples/grpc contract, with knobs for the tests.

Unlike examples-py/kv_plugin.py it marks what it stores (the way go-plugin's Go examples add
"Written from ..."), logs at several levels, prints to stdout and stderr, and reads switches
from the environment its host passes on:
  KV_TEST_VERSIONS=2,3   offer these app protocol versions instead of 1
  KV_TEST_CRASH_ON_GET=1 die (os._exit(3)) in the middle of a Get call, after a stderr line
  KV_TEST_TCP=1          listen on TCP (serve(force_tcp=True))
"""

from __future__ import annotations

import logging
import os
import sys

import grpc
from gen.kv import kv_goplugin, kv_pb2

import goplugin

log = logging.getLogger("kv")


class KV(kv_goplugin.KVServicer):
    def put(self, request: kv_pb2.PutRequest, context: grpc.ServicerContext) -> kv_pb2.Empty:
        log.info("put", extra={"key": request.key})
        print(f"stdout: put {request.key}")
        print(f"stderr: put {request.key}", file=sys.stderr)
        with open("kv_" + request.key, "wb") as f:
            f.write(request.value + b"\n\nWritten from plugin-python-goplugin")
        return kv_pb2.Empty()

    def get(self, request: kv_pb2.GetRequest, context: grpc.ServicerContext) -> kv_pb2.GetResponse:
        log.warning("get", extra={"key": request.key})
        if os.environ.get("KV_TEST_CRASH_ON_GET"):
            stderr = sys.__stderr__
            assert stderr is not None
            stderr.write("about to crash\n")
            stderr.flush()
            os._exit(3)
        with open("kv_" + request.key, "rb") as f:
            return kv_pb2.GetResponse(value=f.read())


def main() -> None:
    handshake = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")
    versions = os.environ.get("KV_TEST_VERSIONS", "1")
    sets = {int(v): {"kv": kv_goplugin.KVPlugin(impl=KV())} for v in versions.split(",")}
    goplugin.serve(
        handshake=handshake,
        versioned_plugins=sets,
        force_tcp=bool(os.environ.get("KV_TEST_TCP")),
    )


if __name__ == "__main__":
    main()
