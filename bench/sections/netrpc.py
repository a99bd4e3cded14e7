"""2. Unary call latency over net/rpc: go-plugin's examples/basic greeter, Go host vs Python host.

The Go greeter is built unmodified from go-plugin v1.8.0; the Python one is
examples-py/greeter_plugin.py. Both log one debug line per call, as go-plugin's does. Each row
is one entry of _rows(): a host and a plugin command.
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
    go = ctx.plugins["greeter"]
    py = ctx.plugins["py-greeter"]
    return {
        "go-go": ("Go host → Go greeter", lambda: ctx.go_host("rpc-go-go", "greeter", go)),
        "py-go": (
            "Python host → Go greeter",
            lambda: ctx.py_host("rpc-py-go", "sync", "greeter", go),
        ),
        "aio-go": (
            "asyncio Python host → Go greeter",
            lambda: ctx.py_host("rpc-aio-go", "aio", "greeter", go),
        ),
        "go-py": ("Go host → Python greeter", lambda: ctx.go_host("rpc-go-py", "greeter", py)),
        "py-py": (
            "Python host → Python greeter",
            lambda: ctx.py_host("rpc-py-py", "sync", "greeter", py),
        ),
    }


def run(ctx: Context) -> list[Row]:
    subjects = _rows(ctx)
    s = ctx.settings
    with ctx.started({k: m for k, (_, m) in subjects.items()}) as drivers:
        rounds = interleave(drivers, f"unary {s.unary_calls}", s.unary_rounds, lat_us)
    rows = []
    for key, (label, _) in subjects.items():
        row = Row(SECTION, f"netrpc.{key}", label, "µs", rounds[key], "netrpc.go-go")
        if key == "go-go":
            row.baseline = None
        rows.append(row)
    return rows
