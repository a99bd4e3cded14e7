"""The behavioural checks of the KV and Streamer contracts, as Python hosts (sync and asyncio).

Every host, Go (examples-go/testprogs/hostcheck) or Python (below), runs the same scenarios
against a plugin and reports plain observations as JSON-like dicts; test_contracts.py asserts
on them alike, so each (host, plugin) pairing is held to one standard. Keep the scenarios in
step with hostcheck's.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import grpc

REPO = Path(__file__).resolve().parents[2]
EXAMPLES_PY = REPO / "examples-py"
VECTORS = REPO / "tests" / "vectors" / "cases.json"
sys.path.insert(0, str(EXAMPLES_PY))

from gen.common import types_pb2  # noqa: E402
from gen.kv import kv_pb2  # noqa: E402
from gen.streaming import streaming_pb2  # noqa: E402
from google.protobuf import empty_pb2, json_format  # noqa: E402

MANY = 10_000  # messages each way in the streaming scenarios
BIG = 16 << 20  # bytes per message in the big-message scenarios
CALL_TIMEOUT = 120.0  # a bound so a broken pairing fails instead of hanging; not asserted on
EMPTY = empty_pb2.Empty()

Result = dict[str, Any]


def pattern(seq: int, size: int) -> bytes:
    """The contract's blob: seq as 8 big-endian bytes, repeated to size."""
    return (seq.to_bytes(8, "big") * (size // 8 + 1))[:size]


def digest(seqs: Iterable[int], size: int) -> str:
    h = hashlib.sha256()
    for seq in seqs:
        h.update(seq.to_bytes(8, "big"))
        h.update(pattern(seq, size))
    return h.hexdigest()


def echo_cases() -> list[tuple[str, streaming_pb2.Event]]:
    """The shared vectors that Echo accepts (events with a body)."""
    cases = json.loads(VECTORS.read_text())["cases"]
    events = [
        (c["name"], json_format.ParseDict(c["json"], streaming_pb2.Event()))
        for c in cases
        if c["type"] == "streaming.Event"
    ]
    return [(name, ev) for name, ev in events if ev.WhichOneof("body") is not None]


def failure(exc: grpc.RpcError) -> Result:
    call: Any = exc  # grpcio's RpcError carries the Call's code() and details()
    return {"code": call.code().name, "details": call.details()}


def events(n: int, size: int, m: Flavour | None = None) -> Iterator[Any]:
    m = m or PROTOBUF
    for seq in range(n):
        yield m.Event(seq=seq, severity=m.severity(seq % 5), blob=pattern(seq, size))


async def aevents(n: int, size: int, m: Flavour | None = None) -> AsyncIterator[Any]:
    for event in events(n, size, m):
        yield event


class _Observer:
    """Summarises a received stream the way hostcheck does."""

    def __init__(self) -> None:
        self.h = hashlib.sha256()
        self.count = self.blob_bytes = self.first = self.last = 0
        self.in_order = True

    def add(self, event: streaming_pb2.Event) -> None:
        if self.count == 0:
            self.first = event.seq
        elif event.seq != self.last + 1:
            self.in_order = False
        self.count += 1
        self.last = event.seq
        self.blob_bytes += len(event.blob)
        self.h.update(event.seq.to_bytes(8, "big"))
        self.h.update(event.blob)

    def result(self) -> Result:
        return {
            "count": self.count,
            "first": self.first,
            "last": self.last,
            "in_order": self.in_order,
            "blob_bytes": self.blob_bytes,
            "digest": self.h.hexdigest(),
        }


def summary(s: streaming_pb2.Summary) -> Result:
    return {
        "count": s.count,
        "blob_bytes": s.blob_bytes,
        "last": s.last_seq,
        "in_order": s.in_order,
        "digest": s.digest.hex(),
        "by_severity": dict(s.by_severity),
    }


def _echoed(event: streaming_pb2.Event, back: streaming_pb2.Event) -> Result:
    return {"equal": back == event, "hex": back.SerializeToString(deterministic=True).hex()}


def _long_wait() -> streaming_pb2.WaitRequest:
    request = streaming_pb2.WaitRequest()
    request.duration.FromSeconds(60)
    return request


@dataclass(frozen=True)
class Flavour:
    """The message classes the scenarios build and check, so that every host runs the same
    scenarios over protobuf's classes (``PROTOBUF``) or betterproto2's (``_contracts_bp2``)."""

    PutRequest: Any
    GetRequest: Any
    Event: Any
    GenerateRequest: Any
    empty: Any
    severity: Callable[[int], Any]
    long_wait: Callable[[], Any]
    echo_cases: Callable[[], list[tuple[str, Any]]]
    echoed: Callable[[Any, Any], Result]


PROTOBUF = Flavour(
    PutRequest=kv_pb2.PutRequest,
    GetRequest=kv_pb2.GetRequest,
    Event=streaming_pb2.Event,
    GenerateRequest=streaming_pb2.GenerateRequest,
    empty=EMPTY,
    severity=lambda i: cast("types_pb2.Severity", i),
    long_wait=_long_wait,
    echo_cases=echo_cases,
    echoed=_echoed,
)


def _until(poll: Callable[[], Any], pred: Callable[[Any], bool]) -> Any:
    deadline = time.monotonic() + 10
    while True:
        stats = poll()
        if pred(stats) or time.monotonic() > deadline:
            return stats
        time.sleep(0.02)


async def _auntil(streamer: Any, pred: Callable[[Any], bool], m: Flavour) -> Any:
    deadline = time.monotonic() + 10
    while True:
        stats = await streamer.get_wait_stats(m.empty, timeout=CALL_TIMEOUT)
        if pred(stats) or time.monotonic() > deadline:
            return stats
        await asyncio.sleep(0.02)


def deadline_reported(seen: Result, plugin: str) -> bool:
    """Whether a host saw its deadline pass. grpc-go's server times the deadline from the
    grpc-timeout header, so with a Go plugin its timer can fire a hair before the host's own;
    it then resets the stream, and grpcio, whose deadline has not passed yet, reports the
    reset as CANCELLED (about 1 call in 150 under load, reproduced with plain grpcio calls).
    The plugin saw the deadline either way (``plugin_saw_end``)."""
    if seen["code"] == "DEADLINE_EXCEEDED":
        return True
    return plugin == "go" and seen["code"] == "CANCELLED" and seen["details"] == _GO_RESET


_GO_RESET = "Stream removed (RST_STREAM (Received RST_STREAM with error code 8))"


# -- KV ------------------------------------------------------------------------------------


def run_kv(kv: Any, m: Flavour = PROTOBUF) -> Result:
    out: Result = {}
    kv.put(m.PutRequest(key="hello", value=b"world"), timeout=CALL_TIMEOUT)
    value = kv.get(m.GetRequest(key="hello"), timeout=CALL_TIMEOUT).value
    out["put_get"] = {"value": value.decode()}
    kv.put(m.PutRequest(key="big", value=pattern(1, BIG)), timeout=CALL_TIMEOUT)
    value = kv.get(m.GetRequest(key="big"), timeout=CALL_TIMEOUT).value
    out["big"] = {"size": len(value), "sha256": hashlib.sha256(value).hexdigest()}
    try:
        kv.get(m.GetRequest(key="missing"), timeout=CALL_TIMEOUT)
        out["missing"] = {"code": "OK"}
    except grpc.RpcError as exc:
        out["missing"] = failure(exc)
    return out


async def arun_kv(kv: Any, m: Flavour = PROTOBUF) -> Result:
    out: Result = {}
    await kv.put(m.PutRequest(key="hello", value=b"world"), timeout=CALL_TIMEOUT)
    value = (await kv.get(m.GetRequest(key="hello"), timeout=CALL_TIMEOUT)).value
    out["put_get"] = {"value": value.decode()}
    await kv.put(m.PutRequest(key="big", value=pattern(1, BIG)), timeout=CALL_TIMEOUT)
    value = (await kv.get(m.GetRequest(key="big"), timeout=CALL_TIMEOUT)).value
    out["big"] = {"size": len(value), "sha256": hashlib.sha256(value).hexdigest()}
    try:
        await kv.get(m.GetRequest(key="missing"), timeout=CALL_TIMEOUT)
        out["missing"] = {"code": "OK"}
    except grpc.RpcError as exc:
        out["missing"] = failure(exc)
    return out


# -- Streamer, sync ---------------------------------------------------------------------------


def _observe(stream: Iterable[streaming_pb2.Event]) -> Result:
    seen = _Observer()
    for event in stream:
        seen.add(event)
    return seen.result()


def run_streaming(s: Any, m: Flavour = PROTOBUF) -> Result:
    """``s``: a StreamerClient of either flavour's glue."""
    out: Result = {}
    t = CALL_TIMEOUT
    out["echo_vectors"] = {name: m.echoed(ev, s.echo(ev, timeout=t)) for name, ev in m.echo_cases()}
    try:
        s.echo(m.Event(seq=1), timeout=t)
        out["echo_invalid"] = {"code": "OK"}
    except grpc.RpcError as exc:
        out["echo_invalid"] = failure(exc)

    request = m.GenerateRequest(count=MANY, blob_size=64, first_seq=5)
    out["generate"] = _observe(s.generate(request, timeout=t))
    out["collect"] = summary(s.collect(events(MANY, 64, m), timeout=t))
    out["exchange"] = _observe(s.exchange(events(MANY, 64, m), timeout=t))

    back = s.echo(m.Event(seq=7, blob=pattern(7, BIG)), timeout=t)
    sha = hashlib.sha256(back.blob).hexdigest()
    out["big_echo"] = {"seq": back.seq, "size": len(back.blob), "sha256": sha}
    request = m.GenerateRequest(count=2, blob_size=BIG)
    out["big_generate"] = _observe(s.generate(request, timeout=t))
    out["big_collect"] = summary(s.collect(events(2, BIG, m), timeout=t))
    out["big_exchange"] = _observe(s.exchange(events(2, BIG, m), timeout=t))

    def stats() -> Any:
        return s.get_wait_stats(m.empty, timeout=t)

    before = stats().cancelled
    try:
        s.wait(m.long_wait(), timeout=1.0)
        deadline: Result = {"code": "OK"}
    except grpc.RpcError as exc:
        deadline = failure(exc)
    seen = _until(stats, lambda w: w.cancelled > before)
    deadline["plugin_saw_end"] = seen.cancelled == before + 1
    out["deadline"] = deadline

    # Sync cancellation: the call's future.
    future = s.wait.future(m.long_wait(), timeout=t)
    started = _until(stats, lambda w: w.waiting == 1).waiting == 1
    future.cancel()
    try:
        future.result()
        cancel: Result = {"code": "OK"}
    except grpc.FutureCancelledError:
        cancel = {"code": "CANCELLED", "details": "future cancelled"}
    except grpc.RpcError as exc:
        cancel = failure(exc)
    seen = _until(stats, lambda w: w.cancelled > before + 1)
    cancel["started"] = started
    cancel["plugin_saw_end"] = seen.cancelled == before + 2 and seen.waiting == 0
    out["cancel"] = cancel

    call = s.generate(m.GenerateRequest(count=1 << 40, blob_size=16), timeout=t)
    received = 0
    for _ in call:
        received += 1
        if received == 100:
            break
    call.cancel()
    after = s.echo(m.Event(seq=1, text="still there"), timeout=t)
    out["stream_break"] = {"received": received, "echo_after": after.text == "still there"}
    return out


# -- Streamer, asyncio -------------------------------------------------------------------------


async def _aobserve(stream: AsyncIterator[streaming_pb2.Event]) -> Result:
    seen = _Observer()
    async for event in stream:
        seen.add(event)
    return seen.result()


async def arun_streaming(s: Any, m: Flavour = PROTOBUF) -> Result:
    out: Result = {}
    t = CALL_TIMEOUT
    echoed: Result = {}
    for name, ev in m.echo_cases():
        echoed[name] = m.echoed(ev, await s.echo(ev, timeout=t))
    out["echo_vectors"] = echoed
    try:
        await s.echo(m.Event(seq=1), timeout=t)
        out["echo_invalid"] = {"code": "OK"}
    except grpc.RpcError as exc:
        out["echo_invalid"] = failure(exc)

    request = m.GenerateRequest(count=MANY, blob_size=64, first_seq=5)
    out["generate"] = await _aobserve(s.generate(request, timeout=t).__aiter__())
    out["collect"] = summary(await s.collect(aevents(MANY, 64, m), timeout=t))
    out["exchange"] = await _aobserve(s.exchange(aevents(MANY, 64, m), timeout=t).__aiter__())

    back = await s.echo(m.Event(seq=7, blob=pattern(7, BIG)), timeout=t)
    sha = hashlib.sha256(back.blob).hexdigest()
    out["big_echo"] = {"seq": back.seq, "size": len(back.blob), "sha256": sha}
    request = m.GenerateRequest(count=2, blob_size=BIG)
    out["big_generate"] = await _aobserve(s.generate(request, timeout=t).__aiter__())
    out["big_collect"] = summary(await s.collect(aevents(2, BIG, m), timeout=t))
    out["big_exchange"] = await _aobserve(s.exchange(aevents(2, BIG, m), timeout=t).__aiter__())

    before = (await s.get_wait_stats(m.empty, timeout=t)).cancelled
    try:
        await s.wait(m.long_wait(), timeout=1.0)
        deadline: Result = {"code": "OK"}
    except grpc.RpcError as exc:
        deadline = failure(exc)
    seen = await _auntil(s, lambda w: w.cancelled > before, m)
    deadline["plugin_saw_end"] = seen.cancelled == before + 1
    out["deadline"] = deadline

    # asyncio cancellation: cancel the task that awaits the call.
    async def call() -> None:
        await s.wait(m.long_wait(), timeout=t)

    task = asyncio.ensure_future(call())
    started = (await _auntil(s, lambda w: w.waiting == 1, m)).waiting == 1
    task.cancel()
    try:
        await task
        cancel: Result = {"code": "OK"}
    except asyncio.CancelledError:
        cancel = {"code": "CANCELLED", "details": "task cancelled"}
    except grpc.RpcError as exc:
        cancel = failure(exc)
    seen = await _auntil(s, lambda w: w.cancelled > before + 1, m)
    cancel["started"] = started
    cancel["plugin_saw_end"] = seen.cancelled == before + 2 and seen.waiting == 0
    out["cancel"] = cancel

    stream = s.generate(m.GenerateRequest(count=1 << 40, blob_size=16), timeout=t)
    received = 0
    async for _ in stream:
        received += 1
        if received == 100:
            break
    stream.cancel()
    after = await s.echo(m.Event(seq=1, text="still there"), timeout=t)
    out["stream_break"] = {"received": received, "echo_after": after.text == "still there"}
    return out


def severity_names() -> list[str]:
    return [types_pb2.Severity.Name(i) for i in range(5)]
