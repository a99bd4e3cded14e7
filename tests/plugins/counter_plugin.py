"""A Python plugin of go-plugin's examples/bidirectional contract, for the tests.

Put dials the host's AddHelper server over the GRPCBroker (its id comes in the request) and
stores the sum in ``kv_<key>`` as JSON, exactly like go-plugin's Go plugin of that example.
"""

from __future__ import annotations

import json

from counter import counter_pb2, counter_pb2_grpc

import goplugin


class Counter(counter_pb2_grpc.CounterServicer):
    def __init__(self, broker: goplugin.GRPCBroker) -> None:
        self.broker = broker

    def _get(self, key: str) -> int:
        try:
            with open("kv_" + key) as f:
                return int(json.load(f)["Value"])
        except FileNotFoundError:
            return 0

    def Put(
        self, request: counter_pb2.CounterPutRequest, context: object
    ) -> counter_pb2.CounterEmpty:
        channel = self.broker.dial(request.add_server)
        try:
            helper = counter_pb2_grpc.AddHelperStub(channel)
            total = helper.Sum(counter_pb2.SumRequest(a=self._get(request.key), b=request.value)).r
        finally:
            channel.close()
        with open("kv_" + request.key, "w") as f:
            json.dump({"Value": total}, f)
        return counter_pb2.CounterEmpty()

    def Get(
        self, request: counter_pb2.CounterGetRequest, context: object
    ) -> counter_pb2.CounterGetResponse:
        return counter_pb2.CounterGetResponse(value=self._get(request.key))


class CounterPlugin:
    def grpc_server(self, broker: goplugin.GRPCBroker, server: object) -> None:
        counter_pb2_grpc.add_CounterServicer_to_server(Counter(broker), server)

    def grpc_client(self, broker: object, channel: object) -> object:
        return counter_pb2_grpc.CounterStub(channel)


if __name__ == "__main__":
    goplugin.serve(
        handshake=goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello"),
        plugins={"counter": CounterPlugin()},
    )
