"""1. Unary call latency: KV.Get of a 16-byte value, every pairing against Go↔Go.

All rows share proto/kv (go-plugin's examples/grpc contract), one Go host binary and one Go
plugin binary, and run round-robin in the same rounds. The raw-grpcio row launches the same Go
plugin by hand and calls it without the SDK: the SDK's overhead is that row's ratio to the
sync Python host row.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._context import Context, interleave
from .._report import Row
from .._subjects import peer_host_drivers

if TYPE_CHECKING:
    from .._driver import Driver

SECTION = "1. unary call latency (KV.Get, 16 B value)"
PLUGIN_PYTHON_ADDRESS = ("127.0.0.1", 1234)  # hard-coded in go-plugin's plugin-python


def port_taken(address: tuple[str, int]) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(address) == 0


def lat_us(reply: dict[str, Any]) -> list[float]:
    return [ns / 1000 for ns in reply["lat_ns"]]


def run(ctx: Context) -> list[Row]:
    p = ctx.plugins
    subjects: dict[str, tuple[str, Callable[[], Driver]]] = {
        "go-go": ("Go host → Go plugin", lambda: ctx.go_host("go-go", "kv", p["go-kv"])),
        "py-go": (
            "Python host → Go plugin",
            lambda: ctx.py_host("py-go", "sync", "kv", p["go-kv"]),
        ),
        "raw-go": (
            "raw grpcio (no SDK) → Go plugin",
            lambda: ctx.py_host("raw-go", "raw", "kv", p["go-kv"]),
        ),
        "aio-go": (
            "asyncio Python host → Go plugin",
            lambda: ctx.py_host("aio-go", "aio", "kv", p["go-kv"]),
        ),
        "go-py": (
            "Go host → Python plugin (serve, grpcio)",
            lambda: ctx.go_host("go-py", "kv", p["py-kv"]),
        ),
        "go-pytcp": (
            "Go host → Python plugin (serve, grpcio, TCP)",
            lambda: ctx.go_host("go-pytcp", "kv", p["py-kv-tcp"]),
        ),
        "go-pyaio": (
            "Go host → Python plugin (aio.serve, grpcio)",
            lambda: ctx.go_host("go-pyaio", "kv", p["py-kv-aio"]),
        ),
        "py-py": (
            "Python host → Python plugin (grpcio)",
            lambda: ctx.py_host("py-py", "sync", "kv", p["py-kv"]),
        ),
        "py-pypure": (
            "Python host → Python plugin (pure)",
            lambda: ctx.py_host("py-pypure", "sync", "kv", p["py-kv-pure"]),
        ),
        "go-plugin-python": (
            "Go host → go-plugin's plugin-python (TCP)",
            lambda: ctx.go_host("go-plugin-python", "kv", p["plugin-python"]),
        ),
    }
    makers = {k: make for k, (_, make) in subjects.items()}
    busy = port_taken(PLUGIN_PYTHON_ADDRESS)
    if busy:
        del makers["go-plugin-python"]
    # The peers' hosts (py-plugin, pyvider-rpcplugin) calling the same Go plugin.
    peers, na, peer_labels = peer_host_drivers(ctx, "kv", p["go-kv"], "un")
    makers.update(peers)
    labels = {k: label for k, (label, _) in subjects.items()} | peer_labels
    s = ctx.settings
    with ctx.started(makers, failed=na) as drivers:
        rounds = interleave(drivers, f"unary {s.unary_calls}", s.unary_rounds, lat_us)
    rows = []
    for key, label in labels.items():
        row = Row(SECTION, f"unary.{key}", label, "µs", rounds.get(key, []), "unary.go-go")
        row.na = na.get(key)
        if key == "go-go":
            row.baseline = None
        if key == "raw-go":
            row.note = "the SDK's reference"
        if key == "py-go":
            row.note = "SDK overhead: see targets"
        if key == "go-plugin-python" and busy:
            row.na = "127.0.0.1:1234 (its fixed address) is in use on this machine"
        rows.append(row)
    return rows
