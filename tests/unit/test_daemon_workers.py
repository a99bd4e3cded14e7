"""DaemonWorkers, the executor of a sync serve()'s gRPC server (goplugin/_engines/_workers.py).

It must behave like ThreadPoolExecutor(max_workers=n) where grpc relies on it (every task
submitted while fewer than n run gets a worker at once, results and errors reach the futures)
and differ where that hurt: its workers are daemon threads, so a task that never returns does
not hold the interpreter's exit (tests/interop/test_plugin_exit.py has the plugin's view).
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from goplugin._engines._workers import DaemonWorkers

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from threaded import collide, succeeded

SAFETY = 20.0


def test_tasks_submitted_together_all_run_at_once_up_to_max_workers() -> None:
    workers = DaemonWorkers(max_workers=32)
    barrier = threading.Barrier(32)  # breaks unless all 32 tasks run at the same time
    futures = [workers.submit(barrier.wait, SAFETY) for _ in range(32)]
    assert sorted(f.result(SAFETY) for f in futures) == list(range(32))
    workers.shutdown()


def test_submits_from_many_threads_each_get_their_result() -> None:
    workers = DaemonWorkers(max_workers=8)

    def work(r: int, i: int) -> int:
        result: int = workers.submit(lambda x: x * 2, r * 100 + i).result(SAFETY)
        return result

    results = succeeded(collide(work, threads=16, rounds=40))
    assert results == [[2 * (r * 100 + i) for i in range(16)] for r in range(40)]
    assert len(workers._threads) <= 8
    workers.shutdown()


def test_errors_reach_the_future_and_the_worker_lives_on() -> None:
    workers = DaemonWorkers(max_workers=1)
    with pytest.raises(ZeroDivisionError):
        workers.submit(lambda: 1 / 0).result(SAFETY)
    assert workers.submit(lambda: "still here").result(SAFETY) == "still here"
    workers.shutdown()
    with pytest.raises(RuntimeError, match="after shutdown"):
        workers.submit(lambda: None)


def test_idle_workers_are_reused() -> None:
    workers = DaemonWorkers(max_workers=16)
    for n in range(50):
        assert workers.submit(lambda v: v, n).result(SAFETY) == n
    assert len(workers._threads) == 1
    workers.shutdown()


def test_a_task_that_never_returns_does_not_hold_the_exit() -> None:
    script = (
        "import threading\n"
        "from goplugin._engines._workers import DaemonWorkers\n"
        "DaemonWorkers(4).submit(threading.Event().wait)\n"
    )
    subprocess.run([sys.executable, "-c", script], timeout=SAFETY, check=True)
