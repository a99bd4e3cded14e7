"""7. The physical floor: a round trip of 16 bytes over a unix socketpair between two
processes, no framing and no RPC, in Go and in Python, against the Go↔Go gRPC unary call
(measured again here, in the same rounds).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .._report import Row
from .unary import lat_us

if TYPE_CHECKING:
    from .._context import Context
    from .._driver import Driver

SECTION = "7. physical floor: unix socketpair ping-pong, 16 B"


def run(ctx: Context) -> list[Row]:
    go = ctx.plugins["go-kv"]
    subjects: dict[str, tuple[str, str, Callable[[], Driver]]] = {
        "grpc": (
            "Go host → Go plugin, gRPC KV.Get (reference)",
            f"unary {ctx.settings.floor_trips}",
            lambda: ctx.go_host("fl-grpc", "kv", go),
        ),
        "go": (
            "Go ↔ Go processes",
            f"pingpong {ctx.settings.floor_trips} 16",
            lambda: ctx.go_host("fl-go", "none", []),
        ),
        "py": (
            "Python ↔ Python processes",
            f"pingpong {ctx.settings.floor_trips} 16",
            lambda: ctx.py_host("fl-py", "sync", "none", []),
        ),
    }
    rounds: dict[str, list[list[float]]] = {k: [] for k in subjects}
    with ctx.started({k: s[2] for k, s in subjects.items()}) as drivers:
        keys = list(drivers)
        for r in range(ctx.settings.floor_rounds):
            for key in keys[r % len(keys) :] + keys[: r % len(keys)]:
                rounds[key].append(lat_us(drivers[key].ask(subjects[key][1])))
    return [
        Row(
            SECTION,
            f"floor.{key}",
            label,
            "µs",
            rounds[key],
            None if key == "grpc" else "floor.grpc",
        )
        for key, (label, _, _) in subjects.items()
    ]
