"""A Python host for counter plugins (Go or Python) that serves them the AddHelper callback::

python counter_host.py [--mux] [--tls] "<plugin command>" put KEY N ... get KEY
"""

from __future__ import annotations

import argparse
import sys

import grpc
from gen.counter import counter_goplugin, counter_pb2

import goplugin

HANDSHAKE = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")


class Adder(counter_goplugin.AddHelperServicer):
    def sum(
        self, request: counter_pb2.SumRequest, context: grpc.ServicerContext
    ) -> counter_pb2.SumResponse:
        return counter_pb2.SumResponse(r=request.a + request.b)


def put(counter: counter_goplugin.CounterClient, key: str, value: int) -> None:
    """Serve AddHelper under a fresh broker id for the duration of one Put."""
    helper_id = counter.broker.next_id()
    server = counter.broker.accept_and_serve(helper_id, counter_goplugin.AddHelperPlugin(Adder()))
    try:
        request = counter_pb2.CounterPutRequest(add_server=helper_id, key=key, value=value)
        counter.put(request, timeout=10)
    finally:
        server.stop(None)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mux", action="store_true", help="gRPC broker multiplexing")
    parser.add_argument("--tls", action="store_true", help="AutoMTLS")
    parser.add_argument("plugin")
    parser.add_argument("commands", nargs="+")
    args = parser.parse_args(argv)
    counter_plugin = counter_goplugin.CounterPlugin()
    plugins = {"counter": counter_plugin}
    with goplugin.PluginClient(
        args.plugin, handshake=HANDSHAKE, plugins=plugins, multiplex=args.mux, auto_mtls=args.tls
    ) as client:
        counter = client.dispense(counter_plugin)  # a CounterClient, its broker typed too
        words = args.commands
        while words:
            if words[0] == "put" and len(words) >= 3:
                put(counter, words[1], int(words[2]))
                words = words[3:]
            elif words[0] == "get" and len(words) >= 2:
                value = counter.get(counter_pb2.CounterGetRequest(key=words[1]), timeout=10).value
                print(f"{words[1]}={value}")
                words = words[2:]
            else:
                parser.error(f"unknown command {words[0]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
