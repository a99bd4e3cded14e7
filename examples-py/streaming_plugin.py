"""The Streamer plugin in Python (thread-pool flavour), serving proto/streaming/streaming.proto.

Each RPC kind is one method of the generated base class: streams in are iterators, streams out
are generators, and ``context`` tells when the host cancels or its deadline passes.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Iterator

import grpc
from gen.common import types_pb2
from gen.streaming import streaming_goplugin, streaming_pb2
from google.protobuf import empty_pb2

import goplugin

HANDSHAKE = goplugin.HandshakeConfig(1, "STREAMING_PLUGIN", "events")


def pattern(seq: int, size: int) -> bytes:
    """The contract's blob: seq as 8 big-endian bytes, repeated to size."""
    return (seq.to_bytes(8, "big") * (size // 8 + 1))[:size]


class Streamer(streaming_goplugin.StreamerServicer):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stats = streaming_pb2.WaitStats()

    def echo(
        self, request: streaming_pb2.Event, context: grpc.ServicerContext
    ) -> streaming_pb2.Event:
        if request.WhichOneof("body") is None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "event has no body")
        return request

    def generate(
        self, request: streaming_pb2.GenerateRequest, context: grpc.ServicerContext
    ) -> Iterator[streaming_pb2.Event]:
        for seq in range(request.first_seq, request.first_seq + request.count):
            yield streaming_pb2.Event(seq=seq, blob=pattern(seq, request.blob_size))

    def collect(
        self, request_iterator: Iterator[streaming_pb2.Event], context: grpc.ServicerContext
    ) -> streaming_pb2.Summary:
        summary = streaming_pb2.Summary(in_order=True)
        digest = hashlib.sha256()
        severities: Counter[str] = Counter()
        for event in request_iterator:
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

    def exchange(
        self, request_iterator: Iterator[streaming_pb2.Event], context: grpc.ServicerContext
    ) -> Iterator[streaming_pb2.Event]:
        yield from request_iterator

    def wait(
        self, request: streaming_pb2.WaitRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        done = threading.Event()
        context.add_callback(done.set)  # runs when the call ends: cancelled or deadline
        with self._lock:
            self._stats.waiting += 1
        cancelled = done.wait(request.duration.ToTimedelta().total_seconds())
        with self._lock:
            self._stats.waiting -= 1
            if cancelled:
                self._stats.cancelled += 1
            else:
                self._stats.completed += 1
        return empty_pb2.Empty()

    def get_wait_stats(
        self, request: empty_pb2.Empty, context: grpc.ServicerContext
    ) -> streaming_pb2.WaitStats:
        with self._lock:
            return streaming_pb2.WaitStats(
                waiting=self._stats.waiting,
                cancelled=self._stats.cancelled,
                completed=self._stats.completed,
            )


if __name__ == "__main__":
    plugin = streaming_goplugin.StreamerPlugin(impl=Streamer())
    goplugin.serve(handshake=HANDSHAKE, plugins={"streamer": plugin})
