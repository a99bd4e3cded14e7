"""A minimal Python plugin that serves AutoMTLS with the OpenSSL relay, for the interop tests.

A stand-in for what goplugin.serve() does when the host sets PLUGIN_CLIENT_CERT: grpcio
serves plaintext on a socket in a private 0700 directory, a TLSServerRelay accepts the
host's TLS connections on the announced socket and pins the host's certificate, and the
handshake line carries our certificate. It registers what a Go host needs (health "plugin"
SERVING, GRPCController.Shutdown) and an in-memory proto.KV.

Environment: PLUGIN_CLIENT_CERT (required), MTLS_TEST_CURVE (our key's curve, P-256).
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import threading
from concurrent import futures
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from kv import kv_pb2, kv_pb2_grpc

from goplugin._handshake import Handshake, Protocol
from goplugin._mtls import generate_identity, mtls_server, pem_to_der
from goplugin._tlsrelay import TLSServerRelay, listen_unix


class KV(kv_pb2_grpc.KVServicer):
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def Put(self, request: kv_pb2.PutRequest, context: Any) -> kv_pb2.Empty:
        self.data[request.key] = request.value
        return kv_pb2.Empty()

    def Get(self, request: kv_pb2.GetRequest, context: Any) -> kv_pb2.GetResponse:
        return kv_pb2.GetResponse(value=self.data.get(request.key, b""))


def main() -> None:
    if os.environ.get("BASIC_PLUGIN") != "hello":
        sys.exit("This binary is a plugin.")
    host_cert = pem_to_der(os.environ["PLUGIN_CLIENT_CERT"])
    identity = generate_identity(os.environ.get("MTLS_TEST_CURVE", "P-256"))
    private = tempfile.mkdtemp(prefix="plugin")  # 0700: only we reach grpcio's plaintext
    stop = threading.Event()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    kv_pb2_grpc.add_KVServicer_to_server(KV(), server)
    status = health.HealthServicer()
    status.set("plugin", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(status, server)

    def shutdown(request: bytes, context: Any) -> bytes:
        stop.set()
        return b""

    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "plugin.GRPCController",
                {"Shutdown": grpc.unary_unary_rpc_method_handler(shutdown)},
            ),
        )
    )
    backend = os.path.join(private, "grpc.sock")
    server.add_insecure_port("unix:" + backend)
    server.start()

    announced = os.path.join(private, "plugin.sock")
    relay = TLSServerRelay(listen_unix(announced), mtls_server(identity, host_cert), backend)
    relay.start()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    line = Handshake(1, 1, "unix", announced, Protocol.GRPC, identity.cert_der).format()
    print(line, flush=True)
    stop.wait()
    relay.close()
    server.stop(0.5).wait()
    shutil.rmtree(private, ignore_errors=True)


if __name__ == "__main__":
    main()
