"""2. Unary call latency over net/rpc: go-plugin's examples/basic greeter, Go host vs Python host.

The greeter plugin is built unmodified from go-plugin v1.8.0. Every row of this section is
one entry in ROWS: adding a host is one line there (and its Greet call in the driver).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .._context import Context, interleave
from .._report import Row
from .unary import lat_us

if TYPE_CHECKING:
    from .._driver import Driver

SECTION = "2. unary call latency over net/rpc (greeter, go-plugin's examples/basic)"


def _rows(ctx: Context) -> dict[str, tuple[str, Callable[[], Driver]]]:
    greeter = ctx.plugins["greeter"]
    return {
        "go-go": ("Go host → Go greeter", lambda: ctx.go_host("rpc-go-go", "greeter", greeter)),
        # Shown as n/a until goplugin.PluginClient speaks net/rpc (the driver then starts).
        "py-go": (
            "Python host → Go greeter",
            lambda: ctx.py_host("rpc-py-go", "sync", "greeter", greeter),
        ),
    }


def _not_yet(reason: str) -> bool:
    """A Python host refusing net/rpc is a missing feature, not a failed benchmark."""
    return "net/rpc" in reason and "not supported" in reason


def run(ctx: Context) -> list[Row]:
    subjects = _rows(ctx)
    s = ctx.settings
    with ctx.started({k: m for k, (_, m) in subjects.items()}, optional=_not_yet) as (
        drivers,
        failed,
    ):
        rounds = interleave(drivers, f"unary {s.unary_calls}", s.unary_rounds, lat_us)
    rows = []
    for key, (label, _) in subjects.items():
        row = Row(SECTION, f"netrpc.{key}", label, "µs", rounds.get(key, []), "netrpc.go-go")
        if key == "go-go":
            row.baseline = None
        if key in failed:
            row.na = "TODO: PluginClient cannot load net/rpc plugins yet"
        rows.append(row)
    return rows
