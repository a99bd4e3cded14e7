"""``python -m soak`` (``nox -s soak``): run the phases, print the table, write the doc.

Exit status 0 when every target was met, 1 when one was missed (the doc is written anyway).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from gobuild import REPO, go_program
from leaks import hold_grpc, private_tmpdir

from . import report
from .core import FULL, QUICK, Context, LoadSampler, PhaseResult, Scale
from .phases import PHASES

DOC = REPO / "docs" / "reliability.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="about two minutes: small counts")
    parser.add_argument("--phases", default="", help=f"comma-separated subset of {PHASES}")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply counts and durations")
    parser.add_argument("--out", type=Path, default=DOC, help="where to write the markdown")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    phases = [p for p in args.phases.split(",") if p] or PHASES
    unknown = set(phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phases {sorted(unknown)}")
    scale = (QUICK if args.quick else FULL).scaled(args.scale)
    mode = ("quick" if args.quick else "full") + (f" x{args.scale:g}" if args.scale != 1 else "")
    if phases != PHASES:
        mode += f", phases {','.join(phases)}"

    go_program("./testprogs/faultplugin")  # built before the clock starts
    results: list[PhaseResult] = []
    with LoadSampler() as load, private_tmpdir("gpsoak") as tmp:
        ctx = Context(scale, tmp, log=lambda line: print(line, file=sys.stderr, flush=True))
        _warm_up(ctx)
        for name in phases:
            print(f"-- {name}", file=sys.stderr, flush=True)
            module = importlib.import_module(f"soak.phases.{name}")
            results.append(module.run(ctx))
    machine = report.Machine.describe(load.samples)
    print(report.terminal(results, machine))
    if not args.no_write:
        report.write(args.out, report.markdown(results, machine, mode, scale))
    return 0 if all(c.passed for r in results for c in r.checks) else 1


def _warm_up(ctx: Context) -> None:
    """What lives as long as the process (the process watcher, grpc's pollers, imports) starts
    with the first launch of each kind: before any phase counts what the host holds."""
    from .phases import cycles

    hold_grpc()
    started = time.monotonic()
    cycles.run(Context(Scale(cycles=1, cycle_concurrency=1), ctx.tmp, log=lambda _: None))
    ctx.log(f"  warmed up in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
