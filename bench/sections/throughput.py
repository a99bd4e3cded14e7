"""3. Throughput: Streamer.Echo of 1 MiB events (MiB/s one way), and one Exchange (bidi)
stream of small events (messages/s), on proto/streaming's generated glue.

The Go and Python Streamer plugins are the examples (examples-go/cmd/streaming-plugin,
examples-py/streaming_plugin.py): Echo returns the event, Exchange yields each one back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._context import Context, interleave
from .._report import Row

if TYPE_CHECKING:
    from .._driver import Driver

SECTION_MIB = "3a. throughput, Streamer.Echo of 1 MiB (MiB/s each way)"
SECTION_BIDI = "3b. throughput, one bidi Exchange stream of small events"
MIB = 1 << 20
SMALL = 16


def _subjects(ctx: Context) -> dict[str, tuple[str, Callable[[], Driver]]]:
    go, py = ctx.plugins["go-streaming"], ctx.plugins["py-streaming"]
    return {
        "go-go": ("Go host → Go plugin", lambda: ctx.go_host("tp-go-go", "streaming", go)),
        "py-go": (
            "Python host → Go plugin",
            lambda: ctx.py_host("tp-py-go", "sync", "streaming", go),
        ),
        "raw-go": (
            "raw grpcio (no SDK) → Go plugin",
            lambda: ctx.py_host("tp-raw-go", "raw", "streaming", go),
        ),
        "aio-go": (
            "asyncio Python host → Go plugin",
            lambda: ctx.py_host("tp-aio-go", "aio", "streaming", go),
        ),
        "go-py": ("Go host → Python plugin", lambda: ctx.go_host("tp-go-py", "streaming", py)),
        "go-pyaio": (
            "Go host → Python plugin (aio.serve)",
            lambda: ctx.go_host("tp-go-pyaio", "streaming", ctx.plugins["py-streaming-aio"]),
        ),
        "py-py": (
            "Python host → Python plugin",
            lambda: ctx.py_host("tp-py-py", "sync", "streaming", py),
        ),
    }


def _mib_per_s(reply: dict[str, Any]) -> list[float]:
    return [MIB / (ns / 1e9) / MIB for ns in reply["lat_ns"]]


def _msgs_per_s(reply: dict[str, Any]) -> list[float]:
    return [reply["count"] / (reply["elapsed_ns"] / 1e9)]


def run(ctx: Context) -> list[Row]:
    subjects = _subjects(ctx)
    s = ctx.settings
    with ctx.started({k: m for k, (_, m) in subjects.items()}) as drivers:
        mib = interleave(drivers, f"echo {MIB} {s.echo_calls}", s.echo_rounds, _mib_per_s)
        bidi = interleave(drivers, f"bidi {s.bidi_messages} {SMALL}", s.bidi_rounds, _msgs_per_s)
    rows = []
    for key, (label, _) in subjects.items():
        rows.append(Row(SECTION_MIB, f"mib.{key}", label, "MiB/s", mib[key], "mib.go-go", True))
    for key, (label, _) in subjects.items():
        rows.append(
            Row(
                SECTION_BIDI,
                f"bidi.{key}",
                label,
                "msgs/s",
                bidi[key],
                "bidi.go-go",
                True,
                note=f"{s.bidi_messages:,} events of {SMALL} B",
            )
        )
    for row in rows:
        if row.key.endswith(".go-go"):
            row.baseline = None
    return rows
