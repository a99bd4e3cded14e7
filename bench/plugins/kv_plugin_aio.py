"""The Python KV plugin on goplugin.aio.serve: the same store, handlers on the event loop.

``--engine=grpcio|pure`` picks the serving engine; grpc is imported for types and errors only.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING

from gen.kv import kv_goplugin, kv_pb2

import goplugin.aio

if TYPE_CHECKING:
    import grpc

    Context = grpc.aio.ServicerContext


class Store(kv_goplugin.AsyncKVServicer):
    async def put(
        self, request: kv_pb2.PutRequest, context: Context[kv_pb2.PutRequest, kv_pb2.Empty]
    ) -> kv_pb2.Empty:
        with open("kv_" + request.key, "wb") as f:  # noqa: ASYNC230 - as the other plugins do
            f.write(request.value)
        return kv_pb2.Empty()

    async def get(
        self, request: kv_pb2.GetRequest, context: Context[kv_pb2.GetRequest, kv_pb2.GetResponse]
    ) -> kv_pb2.GetResponse:
        try:
            with open("kv_" + request.key, "rb") as f:  # noqa: ASYNC230
                return kv_pb2.GetResponse(value=f.read())
        except FileNotFoundError:
            import grpc

            await context.abort(grpc.StatusCode.NOT_FOUND, f"no key {request.key!r}")


if __name__ == "__main__":
    asyncio.run(
        goplugin.aio.serve(
            handshake=goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello"),
            plugins={"kv": kv_goplugin.KVPlugin(impl=Store())},
            engine=next((a[9:] for a in sys.argv[1:] if a.startswith("--engine=")), None),
        )
    )
