"""The only place that spawns, watches, kills and reaps plugin processes.

One daemon thread (the *watcher*) serves every plugin of the interpreter: it reads each plugin's
stdout (the handshake line, then discarded like Go does) and stderr (hclog lines, forwarded to
:mod:`logging`), and notices exits through a pidfd. Results are published on
``concurrent.futures.Future`` objects, which the sync client waits on directly and the asyncio
client wraps, so both flavours share this code and a 100-plugin host costs one thread, not 300.

Each plugin runs in its own process group. When the plugin exits (or is killed) the watcher
SIGKILLs what is left of the group *before* reaping the leader: the zombie keeps the group id
reserved, so this can never hit an unrelated process, and nothing the plugin started outlives it.
"""

from __future__ import annotations

import atexit
import collections
import errno
import logging
import os
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import IO, Any

from ._hclog import StderrLineParser, format_fields

__all__ = ["AttachedProcess", "PluginProcess", "StdoutClosed", "attach", "spawn"]

# go-plugin's PluginLogBufferSize: longer stderr lines are split.
MAX_LINE = 64 * 1024
# After the process is reaped, how long to wait for its pipes to reach EOF (a grandchild may hold
# them open); long enough that the last stderr lines of a crash make it into the error message.
_DRAIN_AFTER_EXIT = 0.5
_TAIL_LINES = 40


class StdoutClosed(Exception):
    """The plugin closed its stdout before writing a handshake line."""


class PluginProcess:
    """A running plugin process as the host sees it. Created by :func:`spawn`."""

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        *,
        logger: logging.Logger,
        stderr_copy: IO[str] | None,
        own_group: bool,
        cleanup_dir: str | None,
    ) -> None:
        self.popen = popen
        self.cleanup_dir = cleanup_dir
        self.pid = popen.pid
        self.logger = logger
        #: The first stdout line, or :class:`StdoutClosed`.
        self.handshake_line: Future[str] = Future()
        #: The exit status, once the process is reaped and its pipes drained (never None here;
        #: typed like AttachedProcess.exited so callers treat both alike).
        self.exited: Future[int | None] = Future()
        self._stderr_copy = stderr_copy
        self._own_group = own_group
        self._tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
        self._parser = StderrLineParser()
        self._returncode: int | None = None

    @property
    def returncode(self) -> int | None:
        return self._returncode

    def stderr_tail(self) -> list[str]:
        """The last lines the plugin wrote to stderr (for error messages)."""
        return list(self._tail)

    def kill(self) -> None:
        """SIGKILL the plugin and its process group; safe to call at any time, repeatedly."""
        if self._returncode is not None:
            return
        try:
            if self._own_group:
                os.killpg(self.pid, signal.SIGKILL)
            else:
                os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        except PermissionError:  # pragma: no cover - a setuid plugin
            self.popen.kill()

    # -- called on the watcher thread ------------------------------------------------------

    def _on_stdout_line(self, line: str) -> None:
        if not self.handshake_line.done():
            self.handshake_line.set_result(line)
        # Later stdout lines are drained and dropped, as Go hosts do: after the handshake a
        # plugin's stdout is not a data channel (GRPCStdio / the netrpc stdout stream are).

    def _on_stdout_eof(self) -> None:
        if not self.handshake_line.done():
            self.handshake_line.set_exception(StdoutClosed())

    def _on_stderr_line(self, line: str) -> None:
        self._tail.append(line)
        if self._stderr_copy is not None:
            try:
                self._stderr_copy.write(line + "\n")
                self._stderr_copy.flush()
            except (OSError, ValueError):
                self._stderr_copy = None
        entry = self._parser.feed(line)
        logger = self.logger
        if not logger.isEnabledFor(entry.level):
            return
        extra: dict[str, Any] = {"plugin_pid": self.pid, "plugin_fields": entry.fields}
        if entry.module is not None:
            extra["plugin_module"] = entry.module
        record = logger.makeRecord(
            logger.name,
            entry.level,
            "(plugin)",
            0,
            format_fields(entry.message, entry.fields),
            (),
            None,
            extra=extra,
        )
        logger.handle(record)

    def _on_exit(self) -> None:
        # The process is a zombie now (pidfd readable) or already reaped (fallback path).
        if self._own_group:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self._returncode = self.popen.wait()

    def _finish(self) -> None:
        for stream in (self.popen.stdout, self.popen.stderr):
            if stream is not None:
                stream.close()
        if not self.handshake_line.done():
            self.handshake_line.set_exception(StdoutClosed())
        if self.cleanup_dir is not None:
            shutil.rmtree(self.cleanup_dir, ignore_errors=True)
        _live.discard(self)
        assert self._returncode is not None
        if not self.exited.done():
            self.exited.set_result(self._returncode)


class AttachedProcess:
    """A plugin this interpreter did not start (reattach): watched for exit, never reaped.

    Its exit status is not ours to know, so ``exited`` resolves to None.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.exited: Future[int | None] = Future()
        self.returncode: int | None = None
        self._pidfd: int | None = None
        self._stop = threading.Event()

    def detach(self) -> None:
        """Stop watching: the host is done with this plugin (it keeps running)."""
        _get_watcher().detach(self)

    def stderr_tail(self) -> list[str]:
        return []

    def kill(self) -> None:
        if self.exited.done():
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def _gone(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)


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
        except Exception:  # a user's logging handler must not kill the watcher
            logging.getLogger(__name__).exception("error while handling plugin output")


class _Entry:
    """The watcher's bookkeeping for one process."""

    __slots__ = ("deadline", "pidfd", "pipes", "proc", "reaped")

    def __init__(self, proc: PluginProcess) -> None:
        self.proc = proc
        self.pipes: set[int] = set()
        self.pidfd: int | None = None
        self.reaped = False
        self.deadline: float | None = None


class _Watcher:
    """The single background thread that owns all plugin pipes and exit notifications."""

    def __init__(self) -> None:
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

    def call_soon(self, fn: Callable[[], None]) -> None:
        with self._lock:
            self._pending.append(fn)
        try:
            os.write(self._wake_w, b"\0")
        except BlockingIOError:
            pass  # already awake

    def add(self, proc: PluginProcess) -> None:
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

        def register() -> None:
            self._entries[proc.pid] = entry
            for pipe in pipes:
                os.set_blocking(pipe.fd, False)
                self._sel.register(pipe.fd, selectors.EVENT_READ, pipe)
                entry.pipes.add(pipe.fd)
            if pidfd is not None:
                self._sel.register(pidfd, selectors.EVENT_READ, entry)

        self.call_soon(register)
        if pidfd is None:
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
                    logging.getLogger(__name__).exception("plugin watcher error")
            now = time.monotonic()
            for entry in list(self._entries.values()):
                if entry.deadline is not None and now >= entry.deadline:
                    self._finish(entry)

    def _dispatch(self, key: selectors.SelectorKey) -> None:
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
            fn()

    def _read(self, pipe: _Pipe) -> None:
        try:
            data = os.read(pipe.fd, 65536)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno != errno.EBADF:
                logging.getLogger(__name__).debug("reading plugin pipe failed: %s", exc)
            data = b""
        if data:
            pipe.feed(data)
            return
        self._sel.unregister(pipe.fd)
        pipe.eof()
        entry = self._entries.get(pipe.proc.pid)
        if entry is not None:
            entry.pipes.discard(pipe.fd)
            if entry.reaped and not entry.pipes:
                self._finish(entry)

    def _exited(self, entry: _Entry) -> None:
        if entry.reaped:
            return
        if entry.pidfd is not None:
            self._sel.unregister(entry.pidfd)
            os.close(entry.pidfd)
            entry.pidfd = None
        entry.proc._on_exit()
        entry.reaped = True
        if entry.pipes:
            entry.deadline = time.monotonic() + _DRAIN_AFTER_EXIT
        else:
            self._finish(entry)

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


_watcher: _Watcher | None = None
_watcher_lock = threading.Lock()


def _get_watcher() -> _Watcher:
    global _watcher
    if _watcher is None:
        with _watcher_lock:
            if _watcher is None:
                _watcher = _Watcher()
    return _watcher


def _reset_after_fork() -> None:
    # A forked child (multiprocessing, a daemon) owns none of its parent's plugins: it must
    # neither watch nor kill them, at its exit or on SIGTERM.
    global _watcher, _watcher_lock, _live, _hooks_installed
    _watcher = None
    _watcher_lock = threading.Lock()
    _live = set()
    _hooks_installed = False  # the child's own plugins, if any, get the hooks afresh


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def spawn(
    cmd: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | os.PathLike[str] | None,
    logger: logging.Logger,
    stderr_copy: IO[str] | None = None,
    cleanup_dir: str | None = None,
) -> PluginProcess:
    """Start a plugin in its own process group, with stdout and stderr piped to the watcher.

    ``cleanup_dir`` is removed once the process is gone (the private socket directory).
    """
    _install_exit_hooks()
    group: dict[str, Any] = {}
    if os.name == "posix":
        if sys.version_info >= (3, 11):
            group["process_group"] = 0
        else:  # pragma: no cover - 3.10
            group["start_new_session"] = True
    popen = subprocess.Popen(
        list(cmd),
        stdin=None,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env),
        cwd=cwd,
        close_fds=True,
        **group,
    )
    proc = PluginProcess(
        popen,
        logger=logger,
        stderr_copy=stderr_copy,
        own_group=bool(group),
        cleanup_dir=cleanup_dir,
    )
    _live.add(proc)
    _get_watcher().add(proc)
    return proc


def attach(pid: int) -> AttachedProcess:
    """Watch a running plugin process (reattach). Raises ProcessLookupError if it is gone."""
    try:
        os.kill(pid, 0)  # ProcessLookupError if there is no such process
    except PermissionError:
        pass  # it exists; another user's
    proc = AttachedProcess(pid)
    _get_watcher().add_attached(proc)
    return proc


# -- no orphans: kill what is still running at interpreter exit and on SIGTERM ----------------

_live: set[PluginProcess] = set()
_hooks_installed = False


def kill_all(timeout: float = 2.0) -> None:
    """SIGKILL every plugin this interpreter started and wait (bounded) until they are reaped.

    Like go-plugin's ``CleanupClients``, but without the graceful step: at interpreter exit
    or on SIGTERM there is no time to be polite, and grpcio may already be shutting down.
    """
    if os.getpid() != _owner_pid:  # a forked child inherited this hook: not its plugins
        return
    procs = list(_live)
    for proc in procs:
        proc.kill()
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.exited.result(max(0.0, deadline - time.monotonic()))
        except Exception:
            pass


def _on_sigterm(signum: int, frame: object) -> None:
    kill_all()  # a no-op in a forked child
    previous = _previous_sigterm
    if callable(previous):
        previous(signum, frame)
        return
    # Die of SIGTERM as we would have without our handler (exit status and all).
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


_previous_sigterm: Any = None
_sigterm_hooked = False
_owner_pid = os.getpid()


def _install_exit_hooks() -> None:
    global _hooks_installed, _previous_sigterm, _sigterm_hooked, _owner_pid
    if not _hooks_installed:
        _hooks_installed = True
        _owner_pid = os.getpid()
        atexit.register(kill_all)
    # Signal handlers can only be set from the main thread: try again at the next spawn if
    # this one runs elsewhere.
    if _sigterm_hooked or threading.current_thread() is not threading.main_thread():
        return
    _sigterm_hooked = True
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_IGN or previous is _on_sigterm:
        return
    _previous_sigterm = previous if callable(previous) else None
    signal.signal(signal.SIGTERM, _on_sigterm)
