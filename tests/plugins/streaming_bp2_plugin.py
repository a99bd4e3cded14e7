"""The Streamer plugin with betterproto2 dataclasses, thread-pool flavour (the asyncio one is
examples-py/streaming_plugin_bp2.py): the sync servicer base of the opt-in glue, every call
kind, deadlines and cancellation through ``context``."""

from __future__ import annotations

import datetime
import hashlib
import threading
from collections import Counter
from collections.abc import Iterator

import betterproto2
import grpc
from gen_bp2 import streaming
from gen_bp2.google import protobuf as wkt
from gen_bp2.streaming import streaming_goplugin_bp2

import goplugin

HANDSHAKE = goplugin.HandshakeConfig(1, "STREAMING_PLUGIN", "events")


def pattern(seq: int, size: int) -> bytes:
    return (seq.to_bytes(8, "big") * (size // 8 + 1))[:size]


class Streamer(streaming_goplugin_bp2.StreamerServicer):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stats = streaming.WaitStats()

    def echo(self, request: streaming.Event, context: grpc.ServicerContext) -> streaming.Event:
        if not betterproto2.which_one_of(request, "body")[0]:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "event has no body")
        return request

    def generate(
        self, request: streaming.GenerateRequest, context: grpc.ServicerContext
    ) -> Iterator[streaming.Event]:
        first = request.first_seq or 0
        for seq in range(first, first + request.count):
            yield streaming.Event(seq=seq, blob=pattern(seq, request.blob_size))

    def collect(
        self, request_iterator: Iterator[streaming.Event], context: grpc.ServicerContext
    ) -> streaming.Summary:
        summary = streaming.Summary(in_order=True)
        digest = hashlib.sha256()
        severities: Counter[str] = Counter()
        for event in request_iterator:
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

    def exchange(
        self, request_iterator: Iterator[streaming.Event], context: grpc.ServicerContext
    ) -> Iterator[streaming.Event]:
        yield from request_iterator

    def wait(self, request: streaming.WaitRequest, context: grpc.ServicerContext) -> wkt.Empty:
        done = threading.Event()
        context.add_callback(done.set)  # runs when the call ends: cancelled or deadline
        with self._lock:
            self._stats.waiting += 1
        cancelled = done.wait((request.duration or datetime.timedelta()).total_seconds())
        with self._lock:
            self._stats.waiting -= 1
            if cancelled:
                self._stats.cancelled += 1
            else:
                self._stats.completed += 1
        return wkt.Empty()

    def get_wait_stats(
        self, request: wkt.Empty, context: grpc.ServicerContext
    ) -> streaming.WaitStats:
        with self._lock:
            stats = self._stats
            return streaming.WaitStats(
                waiting=stats.waiting, cancelled=stats.cancelled, completed=stats.completed
            )


if __name__ == "__main__":
    plugin = streaming_goplugin_bp2.StreamerPlugin(impl=Streamer())
    goplugin.serve(handshake=HANDSHAKE, plugins={"streamer": plugin})
