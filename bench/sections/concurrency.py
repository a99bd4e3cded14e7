"""5. Concurrency: 1, 16 and 256 KV.Get calls in flight from the asyncio host (tasks), against
the Go host doing the same with goroutines. Aggregate calls/s; per-call latency in the note.
The asyncio host also drives every other Python plugin server of bench/_subjects.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._report import Row
from .._stats import median, percentile
from .._subjects import SERVERS, server_drivers

if TYPE_CHECKING:
    from .._context import Context
    from .._driver import Driver

SECTION = "5. concurrency: KV.Get with C calls in flight (aggregate calls/s)"


def run(ctx: Context) -> list[Row]:
    p = ctx.plugins
    subjects: dict[str, tuple[str, Callable[[], Driver]]] = {
        "go-go": (
            "Go host (goroutines) → Go plugin",
            lambda: ctx.go_host("cc-go-go", "kv", p["go-kv"]),
        ),
        "aio-go": (
            "asyncio host → Go plugin",
            lambda: ctx.py_host("cc-aio-go", "aio", "kv", p["go-kv"]),
        ),
        "aio-py": (
            "asyncio host → Python plugin (serve, grpcio)",
            lambda: ctx.py_host("cc-aio-py", "aio", "kv", p["py-kv"]),
        ),
        "aio-pyaio": (
            "asyncio host → Python plugin (aio.serve, grpcio)",
            lambda: ctx.py_host("cc-aio-pyaio", "aio", "kv", p["py-kv-aio"]),
        ),
    }
    servers = [sv for sv in SERVERS if sv.key not in ("goplugin", "goplugin-aio")]
    server_makers, na = server_drivers(ctx, "kv", "cc", host="aio", servers=servers)
    labels = {k: label for k, (label, _) in subjects.items()}
    makers = {k: m for k, (_, m) in subjects.items()}
    for sv in servers:
        labels[f"srv-{sv.key}"] = f"asyncio host → {sv.label}"
        if sv.key in server_makers:
            makers[f"srv-{sv.key}"] = server_makers[sv.key]
    rates: dict[tuple[str, int], list[list[float]]] = {}
    lats: dict[tuple[str, int], list[float]] = {}
    with ctx.started(makers, failed=na) as drivers:
        keys = list(drivers)
        for r in range(ctx.settings.conc_rounds):
            for c, n in ctx.settings.conc_calls:
                for key in keys[r % len(keys) :] + keys[: r % len(keys)]:
                    reply: dict[str, Any] = drivers[key].ask(f"conc {c} {n}")
                    rates.setdefault((key, c), []).append([n / (reply["elapsed_ns"] / 1e9)])
                    lats.setdefault((key, c), []).extend(ns / 1000 for ns in reply["lat_ns"])
    rows = []
    for c, _ in ctx.settings.conc_calls:
        for key, label in labels.items():
            row = Row(
                SECTION,
                f"conc.{key}.{c}",
                f"{label}, {c} in flight",
                "calls/s",
                rates.get((key, c), []),
                None if key == "go-go" else f"conc.go-go.{c}",
                True,
            )
            lat = lats.get((key, c))
            if lat:
                row.note = f"latency p50 {median(lat):,.0f} µs, p95 {percentile(lat, 95):,.0f} µs"
            else:
                row.na = na.get(key) or na.get(key.removeprefix("srv-"), "not measured")
            rows.append(row)
    return rows
