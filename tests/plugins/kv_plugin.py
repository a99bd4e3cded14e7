"""A Python KV plugin of go-plugin's examples/grpc contract, for the tests.

Behaviour switches, read from the environment the host passes through:
  KV_TEST_VERSIONS=2,3   offer these app protocol versions instead of 1
  KV_TEST_CRASH_ON_GET=1 die (os._exit(3)) in the middle of a Get call, after a stderr line
  KV_TEST_TCP=1          listen on TCP (serve(force_tcp=True))
"""

from __future__ import annotations

import logging
import os
import sys

from kv import kv_pb2, kv_pb2_grpc

import goplugin

log = logging.getLogger("kv")


class KV(kv_pb2_grpc.KVServicer):
    def Put(self, request: kv_pb2.PutRequest, context: object) -> kv_pb2.Empty:
        log.info("put", extra={"key": request.key})
        print(f"stdout: put {request.key}")
        print(f"stderr: put {request.key}", file=sys.stderr)
        with open("kv_" + request.key, "wb") as f:
            f.write(request.value + b"\n\nWritten from plugin-python-goplugin")
        return kv_pb2.Empty()

    def Get(self, request: kv_pb2.GetRequest, context: object) -> kv_pb2.GetResponse:
        log.warning("get", extra={"key": request.key})
        if os.environ.get("KV_TEST_CRASH_ON_GET"):
            sys.__stderr__.write("about to crash\n")
            sys.__stderr__.flush()
            os._exit(3)
        with open("kv_" + request.key, "rb") as f:
            return kv_pb2.GetResponse(value=f.read())


class KVPlugin:
    def grpc_server(self, broker: object, server: object) -> None:
        kv_pb2_grpc.add_KVServicer_to_server(KV(), server)

    def grpc_client(self, broker: object, channel: object) -> object:
        return kv_pb2_grpc.KVStub(channel)


def main() -> None:
    handshake = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")
    versions = os.environ.get("KV_TEST_VERSIONS", "1")
    sets = {int(v): {"kv": KVPlugin()} for v in versions.split(",")}
    goplugin.serve(
        handshake=handshake,
        versioned_plugins=sets,
        force_tcp=bool(os.environ.get("KV_TEST_TCP")),
    )


if __name__ == "__main__":
    main()
