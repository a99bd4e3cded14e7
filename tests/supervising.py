"""Helpers of the Supervisor tests (sync and asyncio): plugins to supervise, event records,
and the check that nothing is left behind."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from goplugin import SupervisorEvent, SupervisorEventKind

PLUGINS = Path(__file__).resolve().parent / "plugins"
#: Our supervisor's monitor thread (sync flavour) is named after its function.
MONITOR_THREAD = "goplugin-_supervise"


def fault_plugin_command(kind: str) -> list[str]:
    """The fault plugin of that language (both serve KV as "kv" with BASIC_PLUGIN=hello)."""
    if kind == "go":
        from gobuild import go_program

        return [str(go_program("./testprogs/faultplugin"))]
    return [sys.executable, str(PLUGINS / "fault_plugin.py")]


@dataclass
class Events:
    """An ``on_event`` callback that records what happened and when (thread-safe)."""

    seen: list[tuple[float, SupervisorEvent]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: SupervisorEvent) -> None:
        with self.lock:
            self.seen.append((time.monotonic(), event))

    def kinds(self) -> list[str]:
        with self.lock:
            return [e.kind.value for _, e in self.seen]

    def of(self, kind: SupervisorEventKind) -> list[tuple[float, SupervisorEvent]]:
        with self.lock:
            return [(t, e) for t, e in self.seen if e.kind is kind]

    def count(self, kind: SupervisorEventKind) -> int:
        return len(self.of(kind))


def kill_hard(pid: int | None) -> None:
    assert pid is not None
    os.kill(pid, signal.SIGKILL)


def assert_nothing_left(timeout: float = 5.0) -> None:
    """No child process of ours and no supervisor thread survives ``close()``."""
    me = psutil.Process()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        monitors = [t for t in threading.enumerate() if t.name == MONITOR_THREAD]
        if not me.children(recursive=True) and not monitors:
            return
        time.sleep(0.05)
    assert me.children(recursive=True) == []
    assert [t.name for t in threading.enumerate() if t.name == MONITOR_THREAD] == []


@dataclass
class LoadTally:
    """What callers under load saw: successes, calls lost in flight, anything else."""

    counts: Counter[str] = field(default_factory=Counter)
    unexpected: list[BaseException] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, what: str, exc: BaseException | None = None) -> None:
        with self.lock:
            self.counts[what] += 1
            if exc is not None:
                self.unexpected.append(exc)

    def ok(self) -> int:
        with self.lock:
            return self.counts["ok"]
