"""What every phase shares: how big a run is, what a phase reports, and its leak accounting."""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from leaks import Leaks, Snapshot, settle


@dataclass(frozen=True)
class Scale:
    """How much each phase does. ``FULL`` is what issue 12 asked for; ``QUICK`` takes about
    two minutes; tests use ``TINY``."""

    cycles: int = 1000  # launch/kill cycles per kind (language, protocol, host flavour)
    cycle_concurrency: int = 4  # launches in flight at once
    inflight_calls: int = 64  # calls in flight when the plugin is SIGKILLed
    inflight_rounds: int = 10  # SIGKILLs per kind
    load_seconds: float = 20.0  # per kind
    load_threads: int = 16  # threads (sync host) or tasks (asyncio host) calling at once
    stream_limit: int = 256  # the Python plugin's max_concurrent_calls
    go_streams: int = 1024  # streams held open on the Go plugin (it has no limit)
    death_rounds: int = 10  # host SIGKILLs
    deadline_calls: int = 1000  # timed-out calls per protocol and flavour, Go plugin
    deadline_concurrency: int = 4
    deadline_ms: tuple[int, int] = (20, 100)  # each call's timeout: uniform in this range

    def scaled(self, factor: float) -> Scale:
        """Counts and durations times ``factor`` (limits and concurrency stay)."""

        def times(n: int) -> int:
            return max(1, round(n * factor))

        return replace(
            self,
            cycles=times(self.cycles),
            inflight_rounds=times(self.inflight_rounds),
            load_seconds=max(0.5, self.load_seconds * factor),
            death_rounds=times(self.death_rounds),
            deadline_calls=times(self.deadline_calls),
        )


FULL = Scale()
QUICK = Scale(
    cycles=40,
    inflight_rounds=2,
    load_seconds=3.0,
    stream_limit=64,
    go_streams=256,
    death_rounds=3,
    deadline_calls=150,
)
TINY = Scale(
    cycles=2,
    cycle_concurrency=2,
    inflight_calls=8,
    inflight_rounds=1,
    load_seconds=0.3,
    load_threads=4,
    stream_limit=8,
    go_streams=16,
    death_rounds=1,
    deadline_calls=8,
)


@dataclass
class Check:
    """One of the issue's targets, as this phase measured it."""

    target: str
    passed: bool
    measured: str


@dataclass
class Row:
    """One line of the table."""

    case: str
    figures: str
    passed: bool = True


@dataclass
class PhaseResult:
    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    leaks: Leaks | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def check(self, target: str, passed: bool, measured: str) -> None:
        self.checks.append(Check(target, passed, measured))

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks) and all(r.passed for r in self.rows)


@dataclass
class Context:
    scale: Scale
    tmp: Path  # the run's private TMPDIR
    log: Callable[[str], None] = print


def leak_text(leaks: Leaks) -> str:
    held = leaks.held()
    parts = [f"{k} {v}" for k, v in held.items()]
    parts.append(f"OS threads {leaks.os_threads:+d}")
    parts.append(f"RSS {leaks.rss_growth / 2**20:+.1f} MiB")
    return ("LEAK: " if held else "") + ", ".join(parts)


@contextmanager
def accounted(result: PhaseResult, ctx: Context) -> Iterator[None]:
    """Times the phase and records what the host holds after it that it did not before."""
    before = Snapshot.take(ctx.tmp)
    started = time.monotonic()
    try:
        yield
    finally:
        result.seconds = time.monotonic() - started
        result.leaks = settle(before, ctx.tmp)
        held = result.leaks.held()
        result.check(
            "0 leaks (fds, threads, child processes, temp files)",
            not held,
            leak_text(result.leaks),
        )


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (NaN for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.1f} ms"


class LoadSampler:
    """The machine's 1-minute load average, every few seconds while the soak runs."""

    def __init__(self, interval: float = 5.0) -> None:
        self.samples: list[float] = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(interval,), name="soak-load", daemon=True
        )

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.samples.append(os.getloadavg()[0])
