"""The two contracts as grpcio services (sync or asyncio handlers), for the raw grpcio plugins
and pyvider-rpcplugin (which serves grpc.aio).

Registered the way grpcio-tools' generated ``add_*Servicer_to_server`` registers a servicer
(``method_handlers_generic_handler``). The work is bench/plugins/_contract.py's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
from google.protobuf import empty_pb2

from bench.plugins._contract import SHUTDOWN, kv_get, kv_put, pattern


def handlers(contract: str, *, aio: bool) -> grpc.GenericRpcHandler:
    return _kv_handlers(aio) if contract == "kv" else _streaming_handlers(aio)


def _kv_handlers(aio: bool) -> grpc.GenericRpcHandler:
    from gen.kv import kv_pb2

    def get(request: Any, context: Any) -> Any:
        return kv_pb2.GetResponse(value=kv_get(request.key))

    def put(request: Any, context: Any) -> Any:
        kv_put(request.key, request.value)
        return kv_pb2.Empty()

    async def aget(request: Any, context: Any) -> Any:
        return get(request, context)

    async def aput(request: Any, context: Any) -> Any:
        return put(request, context)

    return grpc.method_handlers_generic_handler(
        "proto.KV",
        {
            "Get": grpc.unary_unary_rpc_method_handler(
                aget if aio else get,
                request_deserializer=kv_pb2.GetRequest.FromString,
                response_serializer=kv_pb2.GetResponse.SerializeToString,
            ),
            "Put": grpc.unary_unary_rpc_method_handler(
                aput if aio else put,
                request_deserializer=kv_pb2.PutRequest.FromString,
                response_serializer=kv_pb2.Empty.SerializeToString,
            ),
        },
    )


def _streaming_handlers(aio: bool) -> grpc.GenericRpcHandler:
    from gen.streaming import streaming_pb2

    event = streaming_pb2.Event

    def echo(request: Any, context: Any) -> Any:
        return request

    def exchange(requests: Iterator[Any], context: Any) -> Iterator[Any]:
        yield from requests

    def generate(request: Any, context: Any) -> Iterator[Any]:
        for seq in range(request.first_seq, request.first_seq + request.count):
            yield event(seq=seq, blob=pattern(seq, request.blob_size))

    async def aecho(request: Any, context: Any) -> Any:
        return request

    async def aexchange(requests: AsyncIterator[Any], context: Any) -> AsyncIterator[Any]:
        async for request in requests:
            yield request

    async def agenerate(request: Any, context: Any) -> AsyncIterator[Any]:
        for seq in range(request.first_seq, request.first_seq + request.count):
            yield event(seq=seq, blob=pattern(seq, request.blob_size))

    return grpc.method_handlers_generic_handler(
        "streaming.Streamer",
        {
            "Echo": grpc.unary_unary_rpc_method_handler(
                aecho if aio else echo,
                request_deserializer=event.FromString,
                response_serializer=event.SerializeToString,
            ),
            "Exchange": grpc.stream_stream_rpc_method_handler(
                aexchange if aio else exchange,
                request_deserializer=event.FromString,
                response_serializer=event.SerializeToString,
            ),
            "Generate": grpc.unary_stream_rpc_method_handler(
                agenerate if aio else generate,
                request_deserializer=streaming_pb2.GenerateRequest.FromString,
                response_serializer=event.SerializeToString,
            ),
        },
    )


def controller(on_shutdown: Any) -> grpc.GenericRpcHandler:
    service, method = SHUTDOWN.rsplit("/", 1)
    return grpc.method_handlers_generic_handler(
        service.strip("/"),
        {
            method: grpc.unary_unary_rpc_method_handler(
                on_shutdown,
                request_deserializer=empty_pb2.Empty.FromString,
                response_serializer=empty_pb2.Empty.SerializeToString,
            )
        },
    )
