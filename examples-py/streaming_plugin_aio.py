"""The Streamer plugin in Python, asyncio flavour: the same contract with ``async def``.

Cancellation is plain asyncio here: when the host cancels a call or its deadline passes, the
handler's task is cancelled.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import AsyncIterator

import grpc
from gen.common import types_pb2
from gen.streaming import streaming_goplugin, streaming_pb2
from google.protobuf import empty_pb2

import goplugin.aio

HANDSHAKE = goplugin.HandshakeConfig(1, "STREAMING_PLUGIN", "events")
Context = grpc.aio.ServicerContext


def pattern(seq: int, size: int) -> bytes:
    """The contract's blob: seq as 8 big-endian bytes, repeated to size."""
    return (seq.to_bytes(8, "big") * (size // 8 + 1))[:size]


class Streamer(streaming_goplugin.AsyncStreamerServicer):
    def __init__(self) -> None:
        self._stats = streaming_pb2.WaitStats()

    async def echo(
        self,
        request: streaming_pb2.Event,
        context: Context[streaming_pb2.Event, streaming_pb2.Event],
    ) -> streaming_pb2.Event:
        if request.WhichOneof("body") is None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "event has no body")
        return request

    async def generate(
        self,
        request: streaming_pb2.GenerateRequest,
        context: Context[streaming_pb2.GenerateRequest, streaming_pb2.Event],
    ) -> AsyncIterator[streaming_pb2.Event]:
        for seq in range(request.first_seq, request.first_seq + request.count):
            yield streaming_pb2.Event(seq=seq, blob=pattern(seq, request.blob_size))

    async def collect(
        self,
        request_iterator: AsyncIterator[streaming_pb2.Event],
        context: Context[streaming_pb2.Event, streaming_pb2.Summary],
    ) -> streaming_pb2.Summary:
        summary = streaming_pb2.Summary(in_order=True)
        digest = hashlib.sha256()
        severities: Counter[str] = Counter()
        async for event in request_iterator:
            if summary.count and event.seq != summary.last_seq + 1:
                summary.in_order = False
            summary.count += 1
            summary.last_seq = event.seq
            summary.blob_bytes += len(event.blob)
            severities[types_pb2.Severity.Name(event.severity)] += 1
            digest.update(event.seq.to_bytes(8, "big"))
            digest.update(event.blob)
        summary.by_severity.update(severities)
        summary.digest = digest.digest()
        return summary

    async def exchange(
        self,
        request_iterator: AsyncIterator[streaming_pb2.Event],
        context: Context[streaming_pb2.Event, streaming_pb2.Event],
    ) -> AsyncIterator[streaming_pb2.Event]:
        async for event in request_iterator:
            yield event

    async def wait(
        self,
        request: streaming_pb2.WaitRequest,
        context: Context[streaming_pb2.WaitRequest, empty_pb2.Empty],
    ) -> empty_pb2.Empty:
        self._stats.waiting += 1
        try:
            await asyncio.sleep(request.duration.ToTimedelta().total_seconds())
        except asyncio.CancelledError:
            self._stats.cancelled += 1
            raise
        else:
            self._stats.completed += 1
        finally:
            self._stats.waiting -= 1
        return empty_pb2.Empty()

    async def get_wait_stats(
        self, request: empty_pb2.Empty, context: Context[empty_pb2.Empty, streaming_pb2.WaitStats]
    ) -> streaming_pb2.WaitStats:
        result = streaming_pb2.WaitStats()
        result.CopyFrom(self._stats)
        return result


if __name__ == "__main__":
    plugin = streaming_goplugin.StreamerPlugin(impl=Streamer())
    asyncio.run(goplugin.aio.serve(handshake=HANDSHAKE, plugins={"streamer": plugin}))
