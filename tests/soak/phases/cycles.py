"""Launch, call once, kill: many times, for every plugin language, protocol and host flavour.

Several launches run at once (``cycle_concurrency``): threads under a sync host, tasks under
an asyncio one. Every cycle must succeed and end in a graceful exit (status 0: the plugin
stopped when asked, no SIGKILL); what the host holds is compared before and after each kind.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from typing import Any

from leaks import Snapshot, settle

from ..core import Context, PhaseResult, Row, accounted, leak_text, ms, percentile
from ..plugins import ALL_KINDS, QUICK_KEY, AsyncKV, Kind, SyncKV, error_name, new_client

#: How long each graceful kill() took, of the kind being cycled (list.append is atomic).
kills: list[float] = []


def run(ctx: Context, kinds: list[Kind] = ALL_KINDS) -> PhaseResult:
    result = PhaseResult("cycles", "Launch / call / kill cycles")
    with accounted(result, ctx):
        for kind in kinds:
            before = Snapshot.take(ctx.tmp)
            started = time.monotonic()
            kills.clear()
            if kind.flavour == "aio":
                times, failures = asyncio.run(_aio_cycles(kind, ctx))
            else:
                times, failures = _sync_cycles(kind, ctx)
            took = time.monotonic() - started
            leaks = settle(before, ctx.tmp)
            n = ctx.scale.cycles
            failed = sum(failures.values())
            row = Row(
                kind.label,
                f"{n - failed}/{n} ok in {took:.0f} s; cycle p50 {ms(percentile(times, 50))}, "
                f"p99 {ms(percentile(times, 99))}; kill() p50 {ms(percentile(kills, 50))}, "
                f"max {ms(max(kills, default=float('nan')))}; {leak_text(leaks)}"
                + (f"; failures: {dict(failures)}" if failures else ""),
                passed=not failed and not leaks.held(),
            )
            result.rows.append(row)
            ctx.log(f"  cycles  {row.case:22} {row.figures}")
    failed_rows = [r.case for r in result.rows if not r.passed]
    total = ctx.scale.cycles * len(kinds)
    result.check(
        "every launch/call/kill cycle succeeds, the plugin exits when asked, 0 leaks per kind",
        not failed_rows,
        f"{total} cycles over {len(kinds)} kinds"
        + (f"; failed: {', '.join(failed_rows)}" if failed_rows else ""),
    )
    return result


def _sync_cycles(kind: Kind, ctx: Context) -> tuple[list[float], collections.Counter[str]]:
    times: list[float] = []
    failures: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()  # guards times, failures, remaining: the cycling threads
    remaining = [ctx.scale.cycles]

    def cycler() -> None:
        while True:
            with lock:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            started = time.monotonic()
            outcome = _sync_cycle(kind)
            with lock:
                times.append(time.monotonic() - started)
                if outcome:
                    failures[outcome] += 1

    threads = [
        threading.Thread(target=cycler, name=f"soak-cycle-{i}")
        for i in range(min(ctx.scale.cycle_concurrency, ctx.scale.cycles))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times, failures


def _sync_cycle(kind: Kind) -> str:
    """ "" if the cycle went as it should, else what went wrong."""
    client = new_client(kind)
    try:
        client.start()
        if SyncKV(client, kind.protocol).get(QUICK_KEY, timeout=30) != b"soak":
            return "wrong answer"
        started = time.monotonic()
        client.kill()
        kills.append(time.monotonic() - started)
        return "" if client.returncode == 0 else f"exit status {client.returncode}"
    except Exception as exc:
        return error_name(exc)
    finally:
        client.kill()


async def _aio_cycles(kind: Kind, ctx: Context) -> tuple[list[float], collections.Counter[str]]:
    times: list[float] = []
    failures: collections.Counter[str] = collections.Counter()
    remaining = [ctx.scale.cycles]

    async def cycler() -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            started = time.monotonic()
            outcome = await _aio_cycle(kind)
            times.append(time.monotonic() - started)
            if outcome:
                failures[outcome] += 1

    await asyncio.gather(
        *(cycler() for _ in range(min(ctx.scale.cycle_concurrency, ctx.scale.cycles)))
    )
    return times, failures


async def _aio_cycle(kind: Kind) -> str:
    client: Any = new_client(kind)
    try:
        await client.start()
        kv = await AsyncKV.dispense(client, kind.protocol)
        if await kv.get(QUICK_KEY, timeout=30) != b"soak":
            return "wrong answer"
        started = time.monotonic()
        await client.kill()
        kills.append(time.monotonic() - started)
        return "" if client.returncode == 0 else f"exit status {client.returncode}"
    except Exception as exc:
        return error_name(exc)
    finally:
        await client.kill()
