"""``nox -s bench [-- --quick] [-- --only unary,start]``: build, measure, print one table.

Prints the table (median, p95 and the ratio to each row's baseline, all measured in this
run) and the targets with PASS/MISS, and writes everything, samples included, to
bench/results/<UTC time>.json and bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ._build import ROOT, build
from ._context import Context, Settings
from ._report import Row, render_table, render_targets, write_json
from ._targets import TARGETS

SECTIONS = [
    "unary",
    "servers",
    "netrpc",
    "throughput",
    "start",
    "concurrency",
    "scale",
    "floor",
    "tls",
]
#: Run only when named in --only: slow, and measured differently (see each module).
OPT_IN = ["instructions"]
RESULTS = ROOT / "bench" / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="about a minute: fewer rounds")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {SECTIONS + OPT_IN}")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (driver logs)")
    args = parser.parse_args(argv)
    only = [s for s in args.only.split(",") if s] or SECTIONS
    unknown = set(only) - set(SECTIONS) - set(OPT_IN)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}")

    started = time.monotonic()
    print("bench: building Go programs and go-plugin's examples ...", file=sys.stderr)
    built = build()
    settings = Settings.quick() if args.quick else Settings()
    workdir = Path(tempfile.mkdtemp(prefix="goplugin-bench-"))
    ctx = Context(built, settings, workdir)
    rows: list[Row] = []
    try:
        for name in [*SECTIONS, *OPT_IN]:
            if name not in only:
                continue
            print(f"bench: {name} ...", file=sys.stderr)
            t = time.monotonic()
            module = importlib.import_module(f".sections.{name}", __package__)
            rows += module.run(ctx)
            print(f"bench: {name} took {time.monotonic() - t:.0f} s", file=sys.stderr)
    finally:
        if args.keep:
            print(f"bench: driver logs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    targets = render_targets(TARGETS, rows)
    print()
    print(render_table(rows))
    print()
    print("Targets")
    for status, line in targets:
        print(f"  {status:4}  {line}")
    elapsed = time.monotonic() - started
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    meta = {
        "time": stamp,
        "quick": args.quick,
        "sections": only,
        "elapsed_s": round(elapsed, 1),
        "settings": settings.__dict__,
        "python": sys.version,
        "go": built.go_version,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()}",
    }
    for path in (RESULTS / f"{stamp}.json", RESULTS / "latest.json"):
        write_json(path, meta, rows, targets)
    print(f"\nbench: {elapsed:.0f} s; results in {RESULTS / (stamp + '.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
