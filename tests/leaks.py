"""What a host process holds, before and after: fds, threads, child processes, temp files, RSS.

The fault tests and the soak runner (tests/soak) share this. A leak is something the process
holds after a piece of work that it did not hold before and does not give back within a
short settling time (a reaped child's pipes close, a relay thread notices its socket closed,
a moment after ``kill()`` returns). Work must run in a private TMPDIR (:func:`private_tmpdir`)
for its temp files to be counted: the shared /tmp holds whatever concurrent runs leave there.

Python threads are compared by identity (a new thread is a leak, whatever the count does);
OS threads (grpc's C-core pollers and executors, which grow and shrink with load) and RSS by
count, reported, and judged by the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

#: How long a count may take to come back after the work that raised it has ended.
SETTLE = 3.0


@dataclass(frozen=True)
class Snapshot:
    fds: int
    os_threads: int
    threads: frozenset[threading.Thread]
    children: tuple[int, ...]
    temp_entries: tuple[str, ...]
    rss: int

    @classmethod
    def take(cls, tmpdir: Path | None = None) -> Snapshot:
        me = psutil.Process()
        entries: tuple[str, ...] = ()
        if tmpdir is not None:
            entries = tuple(sorted(p.name for p in tmpdir.iterdir()))
        return cls(
            fds=me.num_fds(),
            os_threads=me.num_threads(),
            threads=frozenset(t for t in threading.enumerate() if t.is_alive()),
            children=tuple(sorted(p.pid for p in me.children(recursive=True))),
            temp_entries=entries,
            rss=me.memory_info().rss,
        )


@dataclass
class Leaks:
    """What ``after`` holds that ``before`` did not (empty lists and zeros: nothing)."""

    fds: int = 0
    os_threads: int = 0
    threads: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    temp_entries: list[str] = field(default_factory=list)
    rss_growth: int = 0

    @classmethod
    def between(cls, before: Snapshot, after: Snapshot) -> Leaks:
        return cls(
            fds=after.fds - before.fds,
            os_threads=after.os_threads - before.os_threads,
            threads=sorted(t.name for t in after.threads - before.threads),
            children=[_describe(pid) for pid in sorted(set(after.children) - set(before.children))],
            temp_entries=sorted(set(after.temp_entries) - set(before.temp_entries)),
            rss_growth=after.rss - before.rss,
        )

    def held(self, *, os_threads: bool = False) -> dict[str, object]:
        """The leaks that count (OS threads only if asked), for an assertion message."""
        found: dict[str, object] = {}
        if self.fds > 0:
            found["fds"] = self.fds
        if os_threads and self.os_threads > 0:
            found["os_threads"] = self.os_threads
        for name in ("threads", "children", "temp_entries"):
            if getattr(self, name):
                found[name] = getattr(self, name)
        return found


def _describe(pid: int) -> str:
    try:
        proc = psutil.Process(pid)
        return f"{pid} {proc.name()} ({proc.status()})"
    except psutil.Error:
        return f"{pid} (gone)"


def settle(
    before: Snapshot,
    tmpdir: Path | None = None,
    *,
    timeout: float = SETTLE,
    os_threads: bool = False,
) -> Leaks:
    """Leaks since ``before``, once none remain or ``timeout`` has passed."""
    deadline = time.monotonic() + timeout
    while True:
        gc.collect()  # a dropped channel or socket closes its fd when collected
        leaks = Leaks.between(before, Snapshot.take(tmpdir))
        if not leaks.held(os_threads=os_threads) or time.monotonic() > deadline:
            return leaks
        time.sleep(0.05)


@contextlib.contextmanager
def private_tmpdir(prefix: str = "gpt") -> Iterator[Path]:
    """A fresh, short TMPDIR (and tempfile.tempdir) for this process and what it starts.

    Short, because a Python plugin's socket path must fit in 107 bytes (so sockets never move
    to XDG_RUNTIME_DIR, which is unset all the same: nothing escapes the count).
    """
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    saved = {name: os.environ.get(name) for name in ("TMPDIR", "XDG_RUNTIME_DIR")}
    saved_tempdir = tempfile.tempdir
    os.environ["TMPDIR"] = str(path)
    os.environ.pop("XDG_RUNTIME_DIR", None)
    tempfile.tempdir = str(path)
    try:
        yield path
    finally:
        tempfile.tempdir = saved_tempdir
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(path, ignore_errors=True)


_held: list[object] = []


def hold_grpc() -> None:
    """Keep grpcio's sync and asyncio engines up for the rest of the process.

    grpc.aio starts its poller (a thread, fds) with the first asyncio object and stops it
    when the last is gone, and grpc core's pools grow and shrink with work: counted between
    two tests, that is noise, not a leak. A channel of each kind that lives as long as the
    process (the asyncio one on a loop of its own) keeps them steady.
    """
    if _held:
        return
    import grpc
    import grpc.aio

    _held.append(grpc.insecure_channel("unix:/nonexistent/goplugin-leaks"))
    ready = threading.Event()

    async def hold() -> None:
        _held.append(grpc.aio.insecure_channel("unix:/nonexistent/goplugin-leaks"))
        ready.set()
        await asyncio.Event().wait()

    threading.Thread(
        target=asyncio.run, args=(hold(),), name="leaks-hold-grpc", daemon=True
    ).start()
    ready.wait(30)
