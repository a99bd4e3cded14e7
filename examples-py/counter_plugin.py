"""A counter plugin that calls back into its host to add (proto/counter/counter.proto).

The host serves AddHelper over the GRPCBroker and sends its broker id in each Put; the plugin
dials it. go-plugin's examples/bidirectional host loads this plugin unmodified::

    COUNTER_PLUGIN="python3 counter_plugin.py" bidirectional put x 5
"""

from __future__ import annotations

import json

import grpc
from gen.counter import counter_goplugin, counter_pb2

import goplugin

HANDSHAKE = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")


class Counter(counter_goplugin.CounterServicer):
    # self.broker is set by the generated CounterPlugin when it serves.

    def _value(self, key: str) -> int:
        try:
            with open("kv_" + key) as f:
                return int(json.load(f)["Value"])
        except FileNotFoundError:
            return 0

    def put(
        self, request: counter_pb2.CounterPutRequest, context: grpc.ServicerContext
    ) -> counter_pb2.CounterEmpty:
        with self.broker.dial(request.add_server) as channel:
            helper = counter_goplugin.AddHelperClient(channel)
            total = helper.sum(
                counter_pb2.SumRequest(a=self._value(request.key), b=request.value), timeout=10
            ).r
        with open("kv_" + request.key, "w") as f:
            json.dump({"Value": total}, f)  # the same file format as go-plugin's Go plugin
        return counter_pb2.CounterEmpty()

    def get(
        self, request: counter_pb2.CounterGetRequest, context: grpc.ServicerContext
    ) -> counter_pb2.CounterGetResponse:
        return counter_pb2.CounterGetResponse(value=self._value(request.key))


if __name__ == "__main__":
    goplugin.serve(
        handshake=HANDSHAKE, plugins={"counter": counter_goplugin.CounterPlugin(impl=Counter())}
    )
