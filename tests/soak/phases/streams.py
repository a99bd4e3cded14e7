"""N streams held open plus a unary call, at every count up to the plugin's limit.

A Python plugin serves with ``max_concurrent_calls=stream_limit`` (tests/plugins/
capacity_plugin.py): below the limit the unary call must answer, at the limit it must be
refused at once (RESOURCE_EXHAUSTED, or net/rpc's "resource exhausted"); the Go plugin has no
limit and must answer at every count. Streams are gRPC bidi streams (Exchange) held by an
asyncio host; over net/rpc, calls the plugin never answers, held by a sync host's futures.
Then ``kill()`` must stay graceful: the plugin exits when asked, with everything still open.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc

import goplugin
import goplugin.aio
from goplugin.errors import RPCServerError
from goplugin.netrpc import gob

from ..core import Context, PhaseResult, Row, accounted, ms
from ..plugins import (
    HANDSHAKE,
    STREAMING,
    capacity_command,
    fault_command,
    python_plugin_path,
)

#: How long an answer or a refusal may take before the step counts as hung.
WAIT = 10.0


def counts(limit: int) -> list[int]:
    return sorted({1, min(16, limit), limit // 2, limit - 1, limit} - {0})


#: (plugin language, the Python plugin's serve flavour, protocol). The Go plugin has one.
Case = tuple[str, str, str]
ALL_CASES: list[Case] = [
    *(("python", f, p) for f in ("sync", "aio") for p in ("grpc", "netrpc")),
    ("go", "sync", "grpc"),
    ("go", "sync", "netrpc"),
]


def run(ctx: Context, cases: list[Case] = ALL_CASES) -> PhaseResult:
    limit, go_streams = ctx.scale.stream_limit, ctx.scale.go_streams
    result = PhaseResult("streams", f"streams or calls held open plus a unary call (limit {limit})")
    with accounted(result, ctx):
        for language, flavour, protocol in cases:
            steps = counts(limit if language == "python" else go_streams)
            bounded = limit if language == "python" else None
            if protocol == "grpc":
                row = asyncio.run(_grpc(language, flavour, steps, bounded))
            else:
                row = _netrpc(language, flavour, steps, bounded)
            row.case = f"{language} {protocol}" + (
                f" (plugin {flavour})" if language == "python" else ""
            )
            result.rows.append(row)
            ctx.log(f"  streams {row.case:22} {row.figures}")
    bad = [r.case for r in result.rows if not r.passed]
    result.check(
        "no hang at any stream count up to the limit; past it a fast refusal; kill() graceful",
        not bad,
        f"{len(result.rows)} plugins, counts up to {limit} (Python) and {go_streams} (Go)"
        + (f"; failed: {', '.join(bad)}" if bad else ""),
    )
    return result


def _env(language: str, flavour: str, limit: int | None, protocol: str) -> dict[str, str]:
    env = {"PYTHONPATH": python_plugin_path()}
    if language == "python":
        env.update(CAPACITY_FLAVOUR=flavour, CAPACITY_PROTOCOL=protocol)
        if limit is not None:
            env["CAPACITY_MAX_CALLS"] = str(limit)
    elif protocol == "netrpc":
        env["GOPLUGIN_FAULT"] = "serve-netrpc"
    return env


def _verdict(count: int, limit: int | None, outcome: str) -> bool:
    if limit is not None and count >= limit:
        return outcome == "refused"
    return outcome == "OK"


async def _grpc(language: str, flavour: str, steps: list[int], limit: int | None) -> Row:
    from gen.kv import kv_goplugin, kv_pb2
    from gen.streaming import streaming_goplugin, streaming_pb2

    plugins: dict[str, Any] = {"streamer": streaming_goplugin.StreamerPlugin()}
    if language == "go":
        plugins["kv"] = kv_goplugin.KVPlugin()
    client: Any = goplugin.aio.PluginClient(
        capacity_command() if language == "python" else fault_command("go"),
        handshake=STREAMING if language == "python" else HANDSHAKE,
        plugins=plugins,
        env=_env(language, flavour, limit, "grpc"),
    )
    stop = asyncio.Event()
    calls: list[Any] = []
    figures: list[str] = []
    passed = True

    async def feed(seq: int) -> AsyncIterator[Any]:
        yield streaming_pb2.Event(seq=seq, text="hold")
        await stop.wait()

    try:
        streamer = await client.dispense("streamer")
        kv = await client.dispense("kv") if language == "go" else None
        for count in steps:
            started = time.monotonic()
            new = [streamer.exchange(feed(i)) for i in range(len(calls), count)]
            calls.extend(new)
            opened = await asyncio.wait_for(asyncio.gather(*(c.read() for c in new)), WAIT * 3)
            if any(o is grpc.aio.EOF for o in opened):
                raise RuntimeError("a held stream ended")
            open_took = time.monotonic() - started
            started = time.monotonic()
            try:
                if kv is not None:
                    await kv.get(kv_pb2.GetRequest(key="fault:blocked"), timeout=WAIT)
                else:
                    await streamer.echo(streaming_pb2.Event(seq=0, text="quick"), timeout=WAIT)
                outcome = "OK"
            except grpc.RpcError as exc:
                refused = exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                outcome = "refused" if refused else exc.code().name
            took = time.monotonic() - started
            ok = _verdict(count, limit, outcome) and took < WAIT
            passed &= ok
            figures.append(f"{count}: {outcome} {ms(took)} (opened in {open_took:.1f} s)")
        started = time.monotonic()
        await client.kill()
        kill_took = time.monotonic() - started
    except Exception as exc:
        figures.append(f"failed: {exc!r}")
        passed = False
        kill_took = float("nan")
    finally:
        stop.set()
        await client.kill()
    graceful = client.returncode == 0
    figures.append(f"kill {ms(kill_took)}, exit status {client.returncode}")
    return Row("", "; ".join(figures), passed=passed and graceful and kill_took < 2.0)


def _netrpc(language: str, flavour: str, steps: list[int], limit: int | None) -> Row:
    client = goplugin.PluginClient(
        capacity_command() if language == "python" else fault_command("go"),
        handshake=HANDSHAKE,
        env=_env(language, flavour, limit, "netrpc"),
    )
    held: list[Any] = []
    figures: list[str] = []
    passed = True
    try:
        rpc: Any = client.dispense("greeter" if language == "python" else "kv")
        for count in steps:
            while len(held) < count:
                if language == "python":
                    held.append(rpc.call_future("Plugin.Sleep", 600.0, gob.BOOL))
                else:
                    held.append(rpc.call_future("Plugin.Get", "fault:hang", gob.BYTES))
            started = time.monotonic()
            try:
                if language == "python":
                    rpc.call("Plugin.Greet", None, gob.STRING, timeout=WAIT)
                else:
                    rpc.call("Plugin.Get", "quick", gob.BYTES, timeout=WAIT)
                outcome = "OK"
            except RPCServerError as exc:
                outcome = "refused" if "resource exhausted" in str(exc) else str(exc)
            except goplugin.PluginError as exc:
                outcome = type(exc).__name__
            took = time.monotonic() - started
            ok = _verdict(count, limit, outcome) and took < WAIT
            passed &= ok
            figures.append(f"{count}: {outcome} {ms(took)}")
        started = time.monotonic()
        client.kill()
        kill_took = time.monotonic() - started
    except Exception as exc:
        figures.append(f"failed: {exc!r}")
        passed = False
        kill_took = float("nan")
    finally:
        client.kill()
    figures.append(f"kill {ms(kill_took)}, exit status {client.returncode}")
    return Row("", "; ".join(figures), passed=passed and client.returncode == 0 and kill_took < 2.0)
