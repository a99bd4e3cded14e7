"""6. Scale: 100 Go plugins launched, each called once, then all killed, from one host.

One after another (a plain loop) from the Go host, the sync Python host and the asyncio host;
all at once (goroutines, asyncio.gather) from the Go and asyncio hosts. Wall time end to end,
and the host's resident memory per live plugin client (VmRSS with all of them up, minus
before, divided by their number).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._report import Row

if TYPE_CHECKING:
    from .._context import Context
    from .._driver import Driver

SECTION = "6. scale: 100 plugins launched, called, killed from one host"


def run(ctx: Context) -> list[Row]:
    go = ctx.plugins["go-kv"]
    n = ctx.settings.scale_plugins
    # key: (label, driver, command, baseline)
    subjects: dict[str, tuple[str, Callable[[], Driver], str, str]] = {
        "go-go": (
            "Go host, one after another",
            lambda: ctx.go_host("sc-go", "kv", go, lazy=True),
            "scale",
            "go-go",
        ),
        "py-go": (
            "Python host, one after another",
            lambda: ctx.py_host("sc-py", "sync", "kv", go, lazy=True),
            "scale",
            "go-go",
        ),
        "aio-go": (
            "asyncio host, one after another",
            lambda: ctx.py_host("sc-aio", "aio", "kv", go, lazy=True),
            "scale",
            "go-go",
        ),
        "goc-go": (
            "Go host, all at once (goroutines)",
            lambda: ctx.go_host("sc-goc", "kv", go, lazy=True),
            "scalec",
            "goc-go",
        ),
        "aioc-go": (
            "asyncio host, all at once (gather)",
            lambda: ctx.py_host("sc-aioc", "aio", "kv", go, lazy=True),
            "scalec",
            "goc-go",
        ),
    }
    replies: dict[str, list[dict[str, Any]]] = {k: [] for k in subjects}
    with ctx.started({k: s[1] for k, s in subjects.items()}) as drivers:
        keys = list(drivers)
        for r in range(ctx.settings.scale_rounds):
            for key in keys[r % len(keys) :] + keys[: r % len(keys)]:
                replies[key].append(drivers[key].ask(f"{subjects[key][2]} {n}"))
    rows = []
    for key, (label, _, _, base) in subjects.items():
        got = replies[key]
        phases = (
            ", ".join(
                f"{phase} {sum(r[f'{phase}_ns'] for r in got) / len(got) / 1e9:.2f} s"
                for phase in ("start", "call", "kill")
            )
            if got and "start_ns" in got[0]
            else ""
        )
        rows.append(
            Row(
                SECTION,
                f"scale.{key}",
                f"{label}: wall",
                "s",
                [[r["wall_ns"] / 1e9] for r in got],
                None if key == base else f"scale.{base}",
                note=f"{n} plugins; mean {phases}",
            )
        )
    for key, (label, _, _, base) in subjects.items():
        rows.append(
            Row(
                SECTION,
                f"scale.rss.{key}",
                f"{label}: host RSS per plugin",
                "KiB",
                [[(r["rss_loaded"] - r["rss_before"]) / n / 1024] for r in replies[key]],
                None if key == base else f"scale.rss.{base}",
            )
        )
    return rows
