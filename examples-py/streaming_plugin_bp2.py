"""The Streamer plugin (asyncio) written with betterproto2 dataclasses, the opt-in flavour.

Compare streaming_plugin_aio.py: same contract and behaviour, but messages are dataclasses
(``Event.Metric`` is ``EventMetric``, a oneof is fields that are ``None`` unless set, enum
members lose their prefix, Timestamp and Duration arrive as ``datetime``/``timedelta``).
betterproto2 0.10 gives Timestamp and Duration only microsecond precision and mis-encodes
negative fractional Durations: see the README's "Message flavours" before relying on them.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
from collections import Counter
from collections.abc import AsyncIterator

import betterproto2
import grpc
from gen_bp2 import streaming
from gen_bp2.google import protobuf as wkt
from gen_bp2.streaming import streaming_goplugin_bp2

import goplugin.aio

HANDSHAKE = goplugin.HandshakeConfig(1, "STREAMING_PLUGIN", "events")
Context = grpc.aio.ServicerContext


def pattern(seq: int, size: int) -> bytes:
    """The contract's blob: seq as 8 big-endian bytes, repeated to size."""
    return (seq.to_bytes(8, "big") * (size // 8 + 1))[:size]


class Streamer(streaming_goplugin_bp2.AsyncStreamerServicer):
    def __init__(self) -> None:
        self._stats = streaming.WaitStats()

    async def echo(
        self, request: streaming.Event, context: Context[streaming.Event, streaming.Event]
    ) -> streaming.Event:
        if not betterproto2.which_one_of(request, "body")[0]:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "event has no body")
        return request

    async def generate(
        self,
        request: streaming.GenerateRequest,
        context: Context[streaming.GenerateRequest, streaming.Event],
    ) -> AsyncIterator[streaming.Event]:
        first = request.first_seq or 0
        for seq in range(first, first + request.count):
            yield streaming.Event(seq=seq, blob=pattern(seq, request.blob_size))

    async def collect(
        self,
        request_iterator: AsyncIterator[streaming.Event],
        context: Context[streaming.Event, streaming.Summary],
    ) -> streaming.Summary:
        summary = streaming.Summary(in_order=True)
        digest = hashlib.sha256()
        severities: Counter[str] = Counter()
        async for event in request_iterator:
            if summary.count and event.seq != summary.last_seq + 1:
                summary.in_order = False
            blob = event.blob or b""
            summary.count += 1
            summary.last_seq = event.seq
            summary.blob_bytes += len(blob)
            severities[event.severity.proto_name or str(int(event.severity))] += 1
            digest.update(event.seq.to_bytes(8, "big"))
            digest.update(blob)
        summary.by_severity = dict(severities)
        summary.digest = digest.digest()
        return summary

    async def exchange(
        self,
        request_iterator: AsyncIterator[streaming.Event],
        context: Context[streaming.Event, streaming.Event],
    ) -> AsyncIterator[streaming.Event]:
        async for event in request_iterator:
            yield event

    async def wait(
        self, request: streaming.WaitRequest, context: Context[streaming.WaitRequest, wkt.Empty]
    ) -> wkt.Empty:
        self._stats.waiting += 1
        try:
            await asyncio.sleep((request.duration or datetime.timedelta()).total_seconds())
        except asyncio.CancelledError:
            self._stats.cancelled += 1
            raise
        else:
            self._stats.completed += 1
        finally:
            self._stats.waiting -= 1
        return wkt.Empty()

    async def get_wait_stats(
        self, request: wkt.Empty, context: Context[wkt.Empty, streaming.WaitStats]
    ) -> streaming.WaitStats:
        stats = self._stats
        return streaming.WaitStats(
            waiting=stats.waiting, cancelled=stats.cancelled, completed=stats.completed
        )


if __name__ == "__main__":
    plugin = streaming_goplugin_bp2.StreamerPlugin(impl=Streamer())
    asyncio.run(goplugin.aio.serve(handshake=HANDSHAKE, plugins={"streamer": plugin}))
