"""Calls in flight through a SIGKILL: every one must end with PluginExitedError, at once.

The host starts ``inflight_calls`` calls that the plugin never answers (``fault:block``),
waits until the plugin counts them all (``fault:blocked``), SIGKILLs it, and times each call
from the kill to its end. A sync host makes each call on a thread of its own (the blocking
API, as applications use it); an asyncio host as tasks.
"""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import threading
import time
from typing import Any

from goplugin.errors import PluginExitedError

from ..core import Context, PhaseResult, Row, accounted, ms, percentile
from ..plugins import ALL_KINDS, AsyncKV, Kind, SyncKV, error_name, new_client

#: How soon after the kill every call must have ended: a stall, not a slow machine, misses it
#: (a call unsure whether the process died may wait 0.5 s for the kernel to say: see
#: docs/lifecycle.md). The table gives the measured times.
WITHIN = 1.0
#: Bounds that only a hang reaches: how long calls may take to reach the plugin, and to end.
REACH = 60.0
END = 30.0


class Outcomes:
    """What the calls ended with and when, relative to the kill."""

    def __init__(self) -> None:
        self.errors: collections.Counter[str] = collections.Counter()
        self.latencies: list[float] = []
        self.unfinished = 0


def run(ctx: Context, kinds: list[Kind] = ALL_KINDS) -> PhaseResult:
    result = PhaseResult(
        "inflight", f"{ctx.scale.inflight_calls} calls in flight through a SIGKILL"
    )
    worst = 0.0
    with accounted(result, ctx):
        for kind in kinds:
            outcomes = Outcomes()
            for _ in range(ctx.scale.inflight_rounds):
                if kind.flavour == "aio":
                    asyncio.run(_aio_round(kind, ctx.scale.inflight_calls, outcomes))
                else:
                    _sync_round(kind, ctx.scale.inflight_calls, outcomes)
            total = ctx.scale.inflight_calls * ctx.scale.inflight_rounds
            typed = outcomes.errors.get(PluginExitedError.__name__, 0)
            slowest = max(outcomes.latencies, default=float("nan"))
            worst = max(worst, slowest) if outcomes.latencies else worst
            row = Row(
                kind.label,
                f"{typed}/{total} PluginExitedError; after the kill p50 "
                f"{ms(percentile(outcomes.latencies, 50))}, max {ms(slowest)}"
                + (f"; other outcomes: {dict(outcomes.errors)}" if typed != total else "")
                + (f"; {outcomes.unfinished} never ended" if outcomes.unfinished else ""),
                passed=typed == total and not slowest > WITHIN,
            )
            result.rows.append(row)
            ctx.log(f"  inflight {row.case:22} {row.figures}")
    bad = [r.case for r in result.rows if not r.passed]
    result.check(
        "every call in flight through a SIGKILL ends with a typed error (PluginExitedError) "
        f"within {WITHIN * 1000:.0f} ms",
        not bad,
        f"slowest {ms(worst)} after the kill"
        + (f"; not all typed: {', '.join(bad)}" if bad else ""),
    )
    return result


def _sync_round(kind: Kind, calls: int, outcomes: Outcomes) -> None:
    client = new_client(kind)
    threads: list[threading.Thread] = []
    ended: list[tuple[float, str]] = []
    lock = threading.Lock()  # guards ended: the calling threads
    try:
        client.start()
        kv = SyncKV(client, kind.protocol)

        def call() -> None:
            try:
                kv.get("fault:block")
                outcome = "answered"
            except Exception as exc:
                outcome = error_name(exc)
            with lock:
                ended.append((time.monotonic(), outcome))

        threads = [threading.Thread(target=call, daemon=True) for _ in range(calls)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + REACH
        while int(kv.get("fault:blocked", timeout=10)) < calls:
            if time.monotonic() > deadline:
                raise TimeoutError("the calls did not reach the plugin")
            time.sleep(0.01)
        killed_at = time.monotonic()
        os.kill(client.pid, signal.SIGKILL)
        for thread in threads:
            thread.join(max(0.0, killed_at + END - time.monotonic()))
    except Exception as exc:
        outcomes.errors[f"round failed: {error_name(exc)}"] += 1
        killed_at = time.monotonic()
    finally:
        client.kill()
    with lock:
        for at, outcome in ended:
            outcomes.errors[outcome] += 1
            outcomes.latencies.append(at - killed_at)
        outcomes.unfinished += calls - len(ended)


async def _aio_round(kind: Kind, calls: int, outcomes: Outcomes) -> None:
    client: Any = new_client(kind)
    tasks: list[asyncio.Task[None]] = []
    ended: list[tuple[float, str]] = []
    killed_at = time.monotonic()
    try:
        await client.start()
        kv = await AsyncKV.dispense(client, kind.protocol)

        async def call() -> None:
            try:
                await kv.get("fault:block")
                outcome = "answered"
            except Exception as exc:
                outcome = error_name(exc)
            ended.append((time.monotonic(), outcome))

        tasks = [asyncio.ensure_future(call()) for _ in range(calls)]
        deadline = time.monotonic() + REACH
        while int(await kv.get("fault:blocked", timeout=10)) < calls:
            if time.monotonic() > deadline:
                raise TimeoutError("the calls did not reach the plugin")
            await asyncio.sleep(0.01)
        killed_at = time.monotonic()
        os.kill(client.pid, signal.SIGKILL)
        await asyncio.wait(tasks, timeout=END)
    except Exception as exc:
        outcomes.errors[f"round failed: {error_name(exc)}"] += 1
    finally:
        for task in tasks:
            task.cancel()
        await client.kill()
    for at, outcome in ended:
        outcomes.errors[outcome] += 1
        outcomes.latencies.append(at - killed_at)
    outcomes.unfinished += calls - len(ended)
