"""Sustained load: many threads (sync host) or tasks (asyncio host) calling one plugin.

Every call must succeed; the table gives the count, the rate and the latency percentiles
(figures of this machine under its load at the time, not a benchmark: ``nox -s bench`` is).
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from typing import Any

from ..core import Context, PhaseResult, Row, accounted, ms, percentile
from ..plugins import ALL_KINDS, QUICK_KEY, AsyncKV, Kind, SyncKV, error_name, new_client


def run(ctx: Context, kinds: list[Kind] = ALL_KINDS) -> PhaseResult:
    seconds, workers = ctx.scale.load_seconds, ctx.scale.load_threads
    result = PhaseResult("load", f"{seconds:g} s of load, {workers} threads or tasks")
    total_errors = 0
    total_calls = 0
    with accounted(result, ctx):
        for kind in kinds:
            if kind.flavour == "aio":
                latencies, errors = asyncio.run(_aio_load(kind, seconds, workers))
            else:
                latencies, errors = _sync_load(kind, seconds, workers)
            failed = sum(errors.values())
            total_errors += failed
            total_calls += len(latencies) + failed
            row = Row(
                kind.label,
                f"{len(latencies)} calls ({len(latencies) / seconds:.0f}/s), {failed} errors; "
                f"p50 {ms(percentile(latencies, 50))}, p99 {ms(percentile(latencies, 99))}"
                + (f"; errors: {dict(errors)}" if errors else ""),
                passed=not failed and bool(latencies),
            )
            result.rows.append(row)
            ctx.log(f"  load    {row.case:22} {row.figures}")
    result.check(
        "every call under load succeeds",
        total_errors == 0 and all(r.passed for r in result.rows),
        f"{total_calls} calls, {total_errors} errors",
    )
    return result


def _sync_load(
    kind: Kind, seconds: float, workers: int
) -> tuple[list[float], collections.Counter[str]]:
    latencies: list[float] = []
    errors: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()  # guards latencies and errors: the calling threads
    client = new_client(kind)
    try:
        client.start()
        kv = SyncKV(client, kind.protocol)
        stop_at = time.monotonic() + seconds

        def caller() -> None:
            mine: list[float] = []
            while (started := time.monotonic()) < stop_at:
                try:
                    kv.get(QUICK_KEY, timeout=10)
                    mine.append(time.monotonic() - started)
                except Exception as exc:
                    with lock:
                        errors[error_name(exc)] += 1
            with lock:
                latencies.extend(mine)

        threads = [threading.Thread(target=caller) for _ in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    except Exception as exc:
        errors[f"run failed: {error_name(exc)}"] += 1
    finally:
        client.kill()
    return latencies, errors


async def _aio_load(
    kind: Kind, seconds: float, workers: int
) -> tuple[list[float], collections.Counter[str]]:
    latencies: list[float] = []
    errors: collections.Counter[str] = collections.Counter()
    client: Any = new_client(kind)
    try:
        await client.start()
        kv = await AsyncKV.dispense(client, kind.protocol)
        stop_at = time.monotonic() + seconds

        async def caller() -> None:
            while (started := time.monotonic()) < stop_at:
                try:
                    await kv.get(QUICK_KEY, timeout=10)
                    latencies.append(time.monotonic() - started)
                except Exception as exc:
                    errors[error_name(exc)] += 1

        await asyncio.gather(*(caller() for _ in range(workers)))
    except Exception as exc:
        errors[f"run failed: {error_name(exc)}"] += 1
    finally:
        await client.kill()
    return latencies, errors
