"""The process watcher's tables, fed from 16 threads spawning at once (issue 12 #2's audit).

Every spawn hands its fork to the one watcher thread through ``call_soon`` (a list under a
lock); the watcher forks, registers the pipes and pidfd, adds the process to ``_live``, and
alone touches its selector and entries, discarding each process from ``_live`` once reaped.
Real processes: tiny shell commands that write a line to each pipe and exit.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

import pytest

from goplugin._host import process as _process
from goplugin._host.output import PluginOutput
from goplugin._host.watcher import get_watcher

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from threaded import collide, succeeded

pytestmark = pytest.mark.interop


@pytest.mark.timeout(120)
def test_spawning_from_many_threads_at_once(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("goplugin.test.watcher")
    caplog.set_level(logging.INFO, logger=logger.name)

    procs: list[_process.PluginProcess] = []

    def work(r: int, i: int) -> tuple[str, int | None, list[str]]:
        proc = _process.spawn(
            ["/bin/sh", "-c", f"echo hello-{r}-{i}; echo err-{r}-{i} >&2"],
            env=dict(os.environ),
            cwd=None,
            output=PluginOutput(logger),
        ).result(30)
        procs.append(proc)
        line = proc.handshake_line.result(30)
        status = proc.exited.result(30)
        return line, status, proc.stderr_tail()

    results = succeeded(collide(work, rounds=3, switch_interval=1e-4))
    for r, row in enumerate(results):
        assert row == [(f"hello-{r}-{i}", 0, [f"err-{r}-{i}"]) for i in range(len(row))]
    watcher = get_watcher()

    def remembered() -> list[_process.PluginProcess]:
        return [p for p in procs if p in _process._live or p.pid in watcher._entries]

    deadline = time.monotonic() + 10
    while remembered() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(procs) == 3 * 16
    assert remembered() == []  # every process reaped and forgotten
