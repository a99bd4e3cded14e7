"""1b. Python plugin servers under a Go host: KV.Get latency, the plugin's CPU per call, and
throughput with 8 calls in flight, for every server of bench/_subjects.py (goplugin's engines,
the raw stacks, the peers), against the raw grpcio sync server measured in the same rounds.

One Go host (benchhost) per server, the same KV plugin work (one file read per Get). The CPU
figure is the plugin process's, all threads, over the batch (/proc/PID/task/*/schedstat, read
by the host), divided by the calls. The Go plugin is there for scale.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from .._report import Row
from .._subjects import BASELINE, SERVERS, server_drivers
from .unary import lat_us

if TYPE_CHECKING:
    from .._context import Context
    from .._driver import Driver

SECTION_LAT = "1b. Go host → Python plugin servers: KV.Get latency (ratio to raw grpcio sync)"
SECTION_CPU = "1c. Go host → Python plugin servers: plugin CPU per KV.Get"
SECTION_CONC = "1d. Go host → Python plugin servers: KV.Get, 8 calls in flight"
IN_FLIGHT = 8


def _cpu_us(calls: int) -> Callable[[dict[str, Any]], list[float]]:
    def extract(reply: dict[str, Any]) -> list[float]:
        cpu = reply.get("plugin_cpu_ns", -1)
        return [cpu / calls / 1000] if cpu >= 0 else []

    return extract


def _rate(calls: int) -> Callable[[dict[str, Any]], list[float]]:
    return lambda reply: [calls / (reply["elapsed_ns"] / 1e9)]


def _ask_rounds(live: dict[str, Driver], command: str, rounds: int) -> dict[str, list[Any]]:
    """Every driver's replies to ``command``, one per round, in an order that rotates each
    round (as _context.interleave, keeping whole replies: latency and CPU come from one)."""
    keys = list(live)
    out: dict[str, list[Any]] = {k: [] for k in keys}
    for r in range(rounds):
        for key in keys[r % len(keys) :] + keys[: r % len(keys)]:
            out[key].append(live[key].ask(command))
    return out


def run(ctx: Context) -> list[Row]:
    s = ctx.settings
    makers, na = server_drivers(ctx, "kv", "sv")
    drivers: dict[str, Callable[[], Driver]] = {
        **makers,
        "go": partial(ctx.go_host, "sv-go", "kv", ctx.plugins["go-kv"]),
    }
    labels = {server.key: server.label for server in SERVERS}
    labels["go"] = "Go plugin (grpc-go), for scale"
    n, conc_n = s.unary_calls, s.conc8_calls
    with ctx.started(drivers, failed=na) as live:
        replies = {
            "unary": _ask_rounds(live, f"unary {n}", s.unary_rounds),
            "conc": _ask_rounds(live, f"conc {IN_FLIGHT} {conc_n}", s.conc8_rounds),
        }

    def rounds(kind: str, key: str, extract: Callable[[dict[str, Any]], list[float]]) -> Any:
        return [extract(reply) for reply in replies[kind].get(key, [])]

    base = BASELINE if replies["unary"].get(BASELINE) else None
    rows: list[Row] = []
    for section, unit, kind, extract, rate in (
        (SECTION_LAT, "µs", "unary", lat_us, False),
        (SECTION_CPU, "µs CPU", "unary", _cpu_us(n), False),
        (SECTION_CONC, "calls/s", "conc", _rate(conc_n), True),
        (SECTION_CONC, "µs CPU", "conc", _cpu_us(conc_n), False),
    ):
        suffix = "" if (kind, unit) != ("conc", "µs CPU") else ", CPU per call"
        prefix = {SECTION_LAT: "servers.lat", SECTION_CPU: "servers.cpu"}.get(
            section, "servers.conc8" + (".cpu" if suffix else "")
        )
        for key in [*(sv.key for sv in SERVERS), "go"]:
            row = Row(
                section,
                f"{prefix}.{key}",
                labels[key] + suffix,
                unit,
                rounds(kind, key, extract),
                None if key == base or base is None else f"{prefix}.{base}",
                rate,
            )
            if key in na:
                row.na = na[key]
            elif not row.samples:
                row.na = "no CPU figure (plugin pid unknown)"
            rows.append(row)
    return rows
