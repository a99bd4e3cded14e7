"""3. Throughput: Streamer.Echo of 1 MiB events (MiB/s one way), one Exchange (bidi) stream and
one Generate (server-stream) stream of small events (messages/s), on proto/streaming's glue.

The Go and Python Streamer plugins are the examples (examples-go/cmd/streaming-plugin,
examples-py/streaming_plugin.py): Echo returns the event, Exchange yields each one back,
Generate sends the events asked for. Below the host pairings, the Go host with every other
Python plugin server of bench/_subjects.py (raw stacks, peers), whose rows read as ratios to
the raw grpcio sync server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._context import Context, interleave
from .._report import Row
from .._subjects import BASELINE, SERVERS, peer_host_drivers, server_drivers

if TYPE_CHECKING:
    from .._driver import Driver

SECTION_MIB = "3a. throughput, Streamer.Echo of 1 MiB (MiB/s each way)"
SECTION_BIDI = "3b. throughput, one bidi Exchange stream of small events"
SECTION_GEN = "3c. throughput, one server-stream Generate of small events"
#: Servers whose Go-host rows the pairings above already have (go-py, go-pyaio).
_PAIRED = {"goplugin", "goplugin-aio"}
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
        "go-py": (
            "Go host → Python plugin (serve, grpcio)",
            lambda: ctx.go_host("tp-go-py", "streaming", py),
        ),
        "go-pyaio": (
            "Go host → Python plugin (aio.serve, grpcio)",
            lambda: ctx.go_host("tp-go-pyaio", "streaming", ctx.plugins["py-streaming-aio"]),
        ),
        "py-py": (
            "Python host → Python plugin (grpcio)",
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
    servers = [sv for sv in SERVERS if sv.key not in _PAIRED]
    server_makers, na = server_drivers(ctx, "streaming", "tp", servers=servers)
    makers = {k: m for k, (_, m) in subjects.items()}
    makers.update({f"srv-{k}": m for k, m in server_makers.items()})
    peers, peer_na, peer_labels = peer_host_drivers(
        ctx, "streaming", ctx.plugins["go-streaming"], "tp"
    )
    makers.update(peers)
    na.update(peer_na)
    with ctx.started(makers, failed=na) as drivers:
        mib = interleave(drivers, f"echo {MIB} {s.echo_calls}", s.echo_rounds, _mib_per_s)
        bidi = interleave(drivers, f"bidi {s.bidi_messages} {SMALL}", s.bidi_rounds, _msgs_per_s)
        gen = interleave(drivers, f"gen {s.bidi_messages} {SMALL}", s.bidi_rounds, _msgs_per_s)
    labels = {k: label for k, (label, _) in subjects.items()}
    labels.update(peer_labels)
    labels.update({f"srv-{sv.key}": f"Go host → {sv.label}" for sv in servers})
    raw = f"srv-{BASELINE}"
    note = f"{s.bidi_messages:,} events of {SMALL} B"
    rows = []
    for section, prefix, unit, rounds, what in (
        (SECTION_MIB, "mib", "MiB/s", mib, ""),
        (SECTION_BIDI, "bidi", "msgs/s", bidi, note),
        (SECTION_GEN, "gen", "msgs/s", gen, note),
    ):
        for key, label in labels.items():
            if key == "go-go":
                base = None
            elif key.startswith("srv-") and key != raw and raw in rounds:
                base = f"{prefix}.{raw}"
            else:
                base = f"{prefix}.go-go"
            row = Row(section, f"{prefix}.{key}", label, unit, rounds.get(key, []), base, True)
            row.note = what
            reason = na.get(key) or na.get(key.removeprefix("srv-"))
            if reason:
                row.na = reason
            rows.append(row)
    return rows
