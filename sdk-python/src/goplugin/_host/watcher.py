"""The one thread that starts, watches and reaps every plugin process of the interpreter.

It starts plugins (see ``process.spawn``: a parent-death signal belongs to the *thread* that
forked, so the forking thread must live as long as the interpreter), reads each plugin's
stdout (the handshake line, then drained and dropped as Go does) and stderr (each line handed
to the plugin's :class:`~goplugin._host.output.PluginOutput`, which only records and queues it: no
user code ever runs here), and notices exits through a pidfd. One thread serves a 100-plugin
host, not 300.
"""

from __future__ import annotations

import errno
import logging
import os
import selectors
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .process import AttachedProcess, PluginProcess

__all__ = ["MAX_LINE", "Watcher", "get_watcher"]

# go-plugin's PluginLogBufferSize: longer stderr lines are split.
MAX_LINE = 64 * 1024
# After the process is reaped, how long to wait for its pipes to reach EOF (a grandchild may hold
# them open); long enough that the last stderr lines of a crash make it into the error message.
_DRAIN_AFTER_EXIT = 0.5

_log = logging.getLogger("goplugin._host.process")


class _Pipe:
    __slots__ = ("buf", "fd", "on_eof", "on_line", "proc")

    def __init__(
        self,
        proc: PluginProcess,
        fd: int,
        on_line: Callable[[str], None],
        on_eof: Callable[[], None] | None,
    ) -> None:
        self.proc = proc
        self.fd = fd
        self.buf = bytearray()
        self.on_line = on_line
        self.on_eof = on_eof

    def feed(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            self._emit(bytes(buf[start:nl]))
            start = nl + 1
        del buf[:start]
        while len(buf) >= MAX_LINE:
            self._emit(bytes(buf[:MAX_LINE]))
            del buf[:MAX_LINE]

    def eof(self) -> None:
        if self.buf:
            self._emit(bytes(self.buf))
            self.buf.clear()
        if self.on_eof is not None:
            self.on_eof()

    def _emit(self, raw: bytes) -> None:
        try:
            self.on_line(raw.decode("utf-8", "replace").rstrip("\r"))
        except Exception:  # one plugin's trouble must not stop the others' watch
            _log.exception("error while handling plugin output")


class _Entry:
    """The watcher's bookkeeping for one process (touched by the watcher thread only)."""

    __slots__ = ("deadline", "pidfd", "pipes", "proc", "reaped", "streams_closed")

    def __init__(self, proc: PluginProcess) -> None:
        self.proc = proc
        self.pipes: set[int] = set()
        self.pidfd: int | None = None
        self.reaped = False
        self.streams_closed = False
        self.deadline: float | None = None


class Watcher:
    """Owns all plugin pipes and exit notifications; other threads talk to it by ``call_soon``."""

    def __init__(self) -> None:
        # The selector and _entries belong to the watcher thread alone: other threads hand it
        # work through call_soon(), whose _pending list is the one thing under _lock.
        self._sel = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._pending: list[Callable[[], None]] = []
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._entries: dict[int, _Entry] = {}
        self._thread = threading.Thread(target=self._run, name="goplugin-watcher", daemon=True)
        self._thread.start()

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the watcher thread (any thread may call this)."""
        with self._lock:
            self._pending.append(fn)
        try:
            os.write(self._wake_w, b"\0")
        except BlockingIOError:
            pass  # already awake

    def add(self, proc: PluginProcess) -> None:
        """Watch a process just spawned (on the watcher thread: registers at once)."""
        entry = _Entry(proc)
        stdout, stderr = proc.popen.stdout, proc.popen.stderr
        assert stdout is not None and stderr is not None
        pipes = [
            _Pipe(proc, stdout.fileno(), proc._on_stdout_line, proc._on_stdout_eof),
            _Pipe(proc, stderr.fileno(), proc._on_stderr_line, None),
        ]
        pidfd: int | None = None
        if hasattr(os, "pidfd_open"):
            try:
                pidfd = os.pidfd_open(proc.pid)
            except OSError:
                pidfd = None
        entry.pidfd = pidfd
        self._entries[proc.pid] = entry
        for pipe in pipes:
            os.set_blocking(pipe.fd, False)
            self._sel.register(pipe.fd, selectors.EVENT_READ, pipe)
            entry.pipes.add(pipe.fd)
        if pidfd is not None:
            self._sel.register(pidfd, selectors.EVENT_READ, entry)
        else:
            threading.Thread(
                target=self._wait_blocking, args=(entry,), name="goplugin-wait", daemon=True
            ).start()

    def add_attached(self, proc: AttachedProcess) -> None:
        try:
            pidfd = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):
            # No pidfds: poll like go-plugin does (signal 0, once a second).
            threading.Thread(
                target=self._poll_pid, args=(proc,), name="goplugin-poll", daemon=True
            ).start()
            return

        def register() -> None:
            if not proc._stop.is_set():
                proc._pidfd = pidfd
                self._sel.register(pidfd, selectors.EVENT_READ, proc)
            else:
                os.close(pidfd)

        self.call_soon(register)

    @staticmethod
    def _poll_pid(proc: AttachedProcess) -> None:
        while not proc._stop.wait(1.0):
            try:
                os.kill(proc.pid, 0)
            except ProcessLookupError:
                proc._gone()
                return
            except PermissionError:
                pass

    def _wait_blocking(self, entry: _Entry) -> None:
        # Fallback where pidfd is missing (old kernels, macOS): one thread per plugin.
        entry.proc.popen.wait()
        self.call_soon(lambda: self._exited(entry))

    def _run(self) -> None:
        while True:
            timeout = self._next_timeout()
            for key, _ in self._sel.select(timeout):
                try:
                    self._dispatch(key)
                except Exception:  # one plugin's trouble must not stop the others' watch
                    _log.exception("plugin watcher error")
            now = time.monotonic()
            for entry in list(self._entries.values()):
                if entry.deadline is not None and now >= entry.deadline:
                    self._finish(entry)

    def _dispatch(self, key: selectors.SelectorKey) -> None:
        from .process import AttachedProcess

        data = key.data
        if data is None:
            self._drain_wakeups()
        elif isinstance(data, _Pipe):
            self._read(data)
        elif isinstance(data, AttachedProcess):
            self._forget_attached(data)
            data._gone()
        else:
            self._exited(data)

    def _forget_attached(self, proc: AttachedProcess) -> None:
        if proc._pidfd is not None:
            self._sel.unregister(proc._pidfd)
            os.close(proc._pidfd)
            proc._pidfd = None

    def detach(self, proc: AttachedProcess) -> None:
        """Stop watching a reattached plugin (the host disconnected from it)."""
        proc._stop.set()
        self.call_soon(lambda: self._forget_attached(proc))

    def _next_timeout(self) -> float | None:
        deadlines = [e.deadline for e in self._entries.values() if e.deadline is not None]
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - time.monotonic())

    def _drain_wakeups(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        with self._lock:
            pending, self._pending = self._pending, []
        for fn in pending:
            try:
                fn()
            except Exception:
                _log.exception("plugin watcher error")

    def _read(self, pipe: _Pipe) -> None:
        try:
            data = os.read(pipe.fd, 65536)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno != errno.EBADF:
                _log.debug("reading plugin pipe failed: %s", exc)
            data = b""
        if data:
            pipe.feed(data)
            return
        self._sel.unregister(pipe.fd)
        pipe.eof()
        entry = self._entries.get(pipe.proc.pid)
        if entry is not None:
            entry.pipes.discard(pipe.fd)
            if entry.reaped:
                self._settle(entry)

    def _exited(self, entry: _Entry) -> None:
        if entry.reaped:
            return
        if entry.pidfd is not None:
            self._sel.unregister(entry.pidfd)
            os.close(entry.pidfd)
            entry.pidfd = None
        entry.proc._on_exit()
        entry.reaped = True
        # What the plugin printed last may still be on its way through a stdio stream, which
        # ends when the connection notices the exit: the tail waits for it (bounded).
        entry.streams_closed = not entry.proc.output.when_streams_closed(
            lambda: self.call_soon(lambda: self._on_streams_closed(entry))
        )
        self._settle(entry)

    def _on_streams_closed(self, entry: _Entry) -> None:
        entry.streams_closed = True
        if self._entries.get(entry.proc.pid) is entry:
            self._settle(entry)

    def _settle(self, entry: _Entry) -> None:
        """Finish a reaped process once its pipes and streams are done, or at the deadline."""
        if not entry.pipes and entry.streams_closed:
            self._finish(entry)
        elif entry.deadline is None:
            entry.deadline = time.monotonic() + _DRAIN_AFTER_EXIT

    def _finish(self, entry: _Entry) -> None:
        for fd in list(entry.pipes):
            # Drain what is buffered, then stop: a grandchild may hold the pipe open forever.
            key = self._sel.get_map().get(fd)
            if key is not None:
                pipe: _Pipe = key.data
                self._sel.unregister(fd)
                try:
                    while chunk := os.read(fd, 65536):
                        pipe.feed(chunk)
                except OSError:
                    pass
                pipe.eof()
        entry.pipes.clear()
        entry.deadline = None
        self._entries.pop(entry.proc.pid, None)
        entry.proc._finish()


# Created once, by the first spawn or attach of any thread (double-checked under the lock).
_watcher: Watcher | None = None
_watcher_lock = threading.Lock()


def get_watcher() -> Watcher:
    global _watcher
    if _watcher is None:
        with _watcher_lock:
            if _watcher is None:
                _watcher = Watcher()
    return _watcher


def _reset_after_fork() -> None:
    # A forked child (multiprocessing, a daemon) owns none of its parent's plugins: it must
    # not watch them; its own plugins get a watcher thread of its own.
    global _watcher, _watcher_lock
    _watcher = None
    _watcher_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
