"""The driver line protocol, shared by the Python drivers (the Go one mirrors it).

The runner writes one command per line (``unary 1000``) and reads one JSON object per line.
Kept free of goplugin and grpc imports: the raw-grpcio driver must not load the SDK.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

__all__ = ["ARITY", "BENCH_KEY", "BENCH_VALUE", "emit", "parse", "rss_bytes", "timer"]

#: Commands and how many integer arguments each takes (see benchhost's doc comment).
ARITY = {
    "unary": 1,
    "echo": 2,
    "bidi": 2,
    "gen": 2,
    "conc": 2,
    "launch": 0,
    "scale": 1,
    "scalec": 1,
    "pingpong": 2,
}

#: The KV key every row reads and the value stored under it: one small message each way.
BENCH_KEY = "bench"
BENCH_VALUE = b"0123456789abcdef"

timer = time.perf_counter_ns


class CommandError(Exception):
    """A malformed command line: the driver replies with an error and keeps going."""


def parse(line: str) -> tuple[str, list[int]]:
    fields = line.split()
    if not fields:
        raise CommandError("empty command")
    name, args = fields[0], fields[1:]
    if name not in ARITY:
        raise CommandError(f"unknown command {name!r}")
    if len(args) != ARITY[name]:
        raise CommandError(f"{name} takes {ARITY[name]} numbers")
    try:
        return name, [int(a) for a in args]
    except ValueError:
        raise CommandError(f"{name} takes numbers, not {args}") from None


def emit(reply: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(reply, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def rss_bytes() -> int:
    """VmRSS of this process: the figure the Go driver reads too."""
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return -1
