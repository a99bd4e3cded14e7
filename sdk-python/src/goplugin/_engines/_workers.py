"""The executor of a sync gRPC server (either engine): daemon workers, started on demand.

ThreadPoolExecutor's workers are joined at interpreter exit. A handler still running when the
host says Shutdown, one that never returns, then kept the plugin's process alive after
``serve()`` returned, and its host had to SIGKILL it; a Go plugin's process just ends when
``plugin.Serve`` returns, whatever its goroutines do. These workers are daemon threads, as
the net/rpc Dispatcher's are. Like ThreadPoolExecutor there are never fewer workers than
tasks submitted and not finished (up to ``max_workers``), so a call grpc admitted (it bounds
them by ``maximum_concurrent_rpcs``) never waits in the queue; idle workers are reused.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["DaemonWorkers"]

T = TypeVar("T")

_Task = tuple["concurrent.futures.Future[Any]", Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class DaemonWorkers(concurrent.futures.Executor):
    """An executor whose workers never hold the interpreter's exit (grpc calls only
    ``submit``)."""

    def __init__(self, max_workers: int, thread_name_prefix: str = "goplugin-rpc") -> None:
        if max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        self._max_workers = max_workers
        self._name = thread_name_prefix
        self._queue: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        # Guards the counts and the thread list: any thread submits (grpc's polling thread),
        # workers finish tasks, shutdown() stops them.
        self._lock = threading.Lock()
        self._unfinished = 0  # submitted, not finished
        self._threads: list[threading.Thread] = []
        self._shutdown = False

    def submit(
        self, fn: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._unfinished += 1
            worker = None
            if self._unfinished > len(self._threads) < self._max_workers:
                worker = threading.Thread(
                    target=self._work,
                    name=f"{self._name}_{len(self._threads)}",
                    daemon=True,
                )
                self._threads.append(worker)
            self._queue.put((future, fn, args, kwargs))
        if worker is not None:
            worker.start()
        return future

    def _work(self) -> None:
        while (task := self._queue.get()) is not None:
            future, fn, args, kwargs = task
            del task  # nothing of a finished call stays referenced while the worker idles
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:  # the future's, as in ThreadPoolExecutor
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del future, fn, args, kwargs
            with self._lock:
                self._unfinished -= 1

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shutdown = True
            threads = list(self._threads)
        if cancel_futures:
            while True:
                try:
                    task = self._queue.get_nowait()
                except queue.Empty:
                    break
                if task is not None:
                    task[0].cancel()
                    with self._lock:
                        self._unfinished -= 1
        for _ in threads:
            self._queue.put(None)
        if wait:
            for thread in threads:
                thread.join()
