"""The two contracts as grpclib services, for the raw grpclib plugin and py-plugin (which serves
grpclib servicers).

``__mapping__`` is what grpclib's protoc plugin (``protoc-gen-grpclib_python``) generates for
a service: route -> Handler(method, cardinality, request type, reply type); written out here
because the bench has no grpclib code generation. The work is bench/plugins/_contract.py's.
"""

from __future__ import annotations

from typing import Any

from grpclib.const import Cardinality, Handler

from bench.plugins._contract import kv_get, kv_put, pattern


class KV:
    def __init__(self) -> None:
        from gen.kv import kv_pb2

        self.pb = kv_pb2

    def __mapping__(self) -> dict[str, Handler]:
        pb = self.pb
        return {
            "/proto.KV/Get": Handler(
                self.get, Cardinality.UNARY_UNARY, pb.GetRequest, pb.GetResponse
            ),
            "/proto.KV/Put": Handler(self.put, Cardinality.UNARY_UNARY, pb.PutRequest, pb.Empty),
        }

    async def get(self, stream: Any) -> None:
        request = await stream.recv_message()
        await stream.send_message(self.pb.GetResponse(value=kv_get(request.key)))

    async def put(self, stream: Any) -> None:
        request = await stream.recv_message()
        kv_put(request.key, request.value)
        await stream.send_message(self.pb.Empty())


class Streamer:
    def __init__(self) -> None:
        from gen.streaming import streaming_pb2

        self.pb = streaming_pb2

    def __mapping__(self) -> dict[str, Handler]:
        event = self.pb.Event
        return {
            "/streaming.Streamer/Echo": Handler(self.echo, Cardinality.UNARY_UNARY, event, event),
            "/streaming.Streamer/Exchange": Handler(
                self.exchange, Cardinality.STREAM_STREAM, event, event
            ),
            "/streaming.Streamer/Generate": Handler(
                self.generate, Cardinality.UNARY_STREAM, self.pb.GenerateRequest, event
            ),
        }

    async def echo(self, stream: Any) -> None:
        await stream.send_message(await stream.recv_message())

    async def exchange(self, stream: Any) -> None:
        async for event in stream:
            await stream.send_message(event)

    async def generate(self, stream: Any) -> None:
        request = await stream.recv_message()
        event = self.pb.Event
        for seq in range(request.first_seq, request.first_seq + request.count):
            await stream.send_message(event(seq=seq, blob=pattern(seq, request.blob_size)))


def service(contract: str) -> KV | Streamer:
    return KV() if contract == "kv" else Streamer()
