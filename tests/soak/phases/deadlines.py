"""Deadline precision: calls a Go plugin never answers in time, each with its own timeout.

Each call asks ``fault:sleep:10s`` with a timeout drawn from ``deadline_ms`` and must fail
as a deadline (gRPC's DEADLINE_EXCEEDED; net/rpc's RPCTimeoutError) no later than the issue
allows past its timeout. grpc-go resets a call's stream when the deadline it was sent expires,
so gRPC calls race that reset against grpcio's own timer: the case that cost a second before
(issue 12, #3). ``deadline_concurrency`` calls are in flight at once.
"""

from __future__ import annotations

import asyncio
import collections
import random
import threading
import time
from typing import Any

import grpc

from goplugin.errors import RPCTimeoutError

from ..core import Context, PhaseResult, Row, accounted, ms, percentile
from ..plugins import AsyncKV, Kind, SyncKV, error_name, new_client

#: The issue's target for the worst overrun.
TARGET = 0.050
KINDS = [Kind("go", p, f) for p in ("grpc", "netrpc") for f in ("sync", "aio")]
SLEEP_KEY = "fault:sleep:10s"


def is_deadline(exc: BaseException) -> bool:
    if isinstance(exc, RPCTimeoutError):
        return True
    return isinstance(exc, grpc.RpcError) and exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED


class Tally:
    def __init__(self) -> None:
        self.overruns: list[float] = []
        self.outcomes: collections.Counter[str] = collections.Counter()


def run(ctx: Context, kinds: list[Kind] = KINDS) -> PhaseResult:
    scale = ctx.scale
    low, high = scale.deadline_ms
    result = PhaseResult(
        "deadlines", f"Deadline precision: {scale.deadline_calls} timed-out calls per kind"
    )
    worst = 0.0
    total = wrong = 0
    with accounted(result, ctx):
        for kind in kinds:
            rng = random.Random(f"{kind.label}")
            timeouts = [rng.uniform(low, high) / 1000 for _ in range(scale.deadline_calls)]
            tally = Tally()
            if kind.flavour == "aio":
                asyncio.run(_aio(kind, timeouts, scale.deadline_concurrency, tally))
            else:
                _sync(kind, timeouts, scale.deadline_concurrency, tally)
            deadlines = tally.outcomes.get("deadline", 0)
            total += len(timeouts)
            wrong += len(timeouts) - deadlines
            slowest = max(tally.overruns, default=float("nan"))
            if tally.overruns:
                worst = max(worst, slowest)
            row = Row(
                kind.label,
                f"{deadlines}/{len(timeouts)} deadline errors; overrun p50 "
                f"{ms(percentile(tally.overruns, 50))}, p99 {ms(percentile(tally.overruns, 99))}, "
                f"max {ms(slowest)}"
                + (
                    f"; other outcomes: {dict(tally.outcomes)}"
                    if deadlines != len(timeouts)
                    else ""
                ),
                passed=deadlines == len(timeouts) and slowest <= TARGET,
            )
            result.rows.append(row)
            ctx.log(f"  deadline {row.case:22} {row.figures}")
    result.check(
        f"worst deadline overrun <= {TARGET * 1000:.0f} ms",
        worst <= TARGET,
        f"worst {ms(worst)} over {total} calls ({low}-{high} ms timeouts)",
    )
    result.check(
        "every timed-out call ends as a deadline error",
        wrong == 0,
        f"{total - wrong}/{total}",
    )
    return result


def _record(tally: Tally, timeout: float, elapsed: float, exc: BaseException | None) -> None:
    if exc is None:
        tally.outcomes["answered"] += 1
    elif is_deadline(exc):
        tally.outcomes["deadline"] += 1
    else:
        tally.outcomes[error_name(exc)] += 1
    tally.overruns.append(elapsed - timeout)


def _sync(kind: Kind, timeouts: list[float], concurrency: int, tally: Tally) -> None:
    client = new_client(kind)
    lock = threading.Lock()  # guards tally and the queue of timeouts: the calling threads
    queue = list(reversed(timeouts))
    try:
        client.start()
        kv = SyncKV(client, kind.protocol)

        def caller() -> None:
            while True:
                with lock:
                    if not queue:
                        return
                    timeout = queue.pop()
                started = time.monotonic()
                error: BaseException | None = None
                try:
                    kv.get(SLEEP_KEY, timeout=timeout)
                except Exception as exc:
                    error = exc
                elapsed = time.monotonic() - started
                with lock:
                    _record(tally, timeout, elapsed, error)

        threads = [threading.Thread(target=caller) for _ in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    except Exception as exc:
        tally.outcomes[f"run failed: {error_name(exc)}"] += 1
    finally:
        client.kill()


async def _aio(kind: Kind, timeouts: list[float], concurrency: int, tally: Tally) -> None:
    client: Any = new_client(kind)
    queue = list(reversed(timeouts))
    try:
        await client.start()
        kv = await AsyncKV.dispense(client, kind.protocol)

        async def caller() -> None:
            while queue:
                timeout = queue.pop()
                started = time.monotonic()
                error: BaseException | None = None
                try:
                    await kv.get(SLEEP_KEY, timeout=timeout)
                except Exception as exc:
                    error = exc
                _record(tally, timeout, time.monotonic() - started, error)

        await asyncio.gather(*(caller() for _ in range(concurrency)))
    except Exception as exc:
        tally.outcomes[f"run failed: {error_name(exc)}"] += 1
    finally:
        await client.kill()
