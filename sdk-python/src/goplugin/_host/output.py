"""Host side: where a plugin's output goes, without a slow log handler ever stalling the host.

A plugin's output arrives on two paths: its real stderr (hclog lines, crash dumps), read by the
process watcher thread, and its redirected stdout/stderr (GRPCStdio, or net/rpc's stdout and
stderr streams), read by the connection. Every line is recorded in the plugin's tail at once
(bounded; error messages quote it) and queued for the *dispatcher*: one daemon thread per
interpreter that runs the user's logging handlers. The watcher only reads pipes and reaps
processes, so a handler that blocks delays log records, never a handshake or an exit.

The queue is bounded in lines and bytes. When handlers fall behind, new lines are dropped and
counted, and the count is logged where they were dropped (before the plugin's next line that
makes it into the queue, or when it exits): memory stays bounded whatever a plugin writes.

Levels follow go-plugin's host (client.go ``logStderr``) for the real stderr: hclog JSON keeps
its level, ``[LEVEL]`` prefixes are honoured, other lines are DEBUG (ERROR after a panic). Lines
the plugin *printed* (its redirected stdout/stderr, which a Go host discards unless SyncStdout/
SyncStderr are set) are logged at INFO, or at their ``[LEVEL]`` prefix, unless ``sync_stdout``/
``sync_stderr`` redirect them.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import IO, Any

from .._protocol.hclog import LogEntry, StderrLineParser, format_fields, level_prefix, render_line

__all__ = ["STDIO_STDERR", "STDIO_STDOUT", "PluginOutput"]

# StdioData.Channel values (and the net/rpc stream each maps to).
STDIO_STDOUT = 1
STDIO_STDERR = 2
_REAL_STDERR = 0  # the plugin's own fd 2, read by the watcher
_CLOSE = -1  # queue marker: the plugin is gone, report what was dropped

# What the dispatcher may hold before it drops lines (a flood behind a slow handler).
MAX_QUEUED_LINES = 10_000
MAX_QUEUED_BYTES = 4 << 20
# The stderr tail quoted in error messages: the last lines, each and all of them bounded.
TAIL_LINES = 40
TAIL_LINE_CHARS = 400
TAIL_CHARS = 8192
# Raw text kept per tail line: enough to render any hclog line worth quoting.
_KEPT_CHARS = 4096
# Longest partial line a stdio stream may leave pending (go-plugin's PluginLogBufferSize).
_MAX_PARTIAL = 64 * 1024

_log = logging.getLogger("goplugin.client")


class PluginOutput:
    """One plugin's output: its tail, its log records, its ``sync_stdout``/``sync_stderr``.

    Who touches what: ``stderr_line`` (and ``_parser``, whose panic mode follows the stream)
    runs on the watcher thread; ``stdio`` runs on the reader of each stdio channel (one reader
    per channel, so the partial-line buffers each have one owner); the tail is shared and
    guarded by ``_tail_lock``; ``_pending``/``_dropped``/``_flushes`` are guarded by the
    dispatcher's condition; ``_emit`` runs on the dispatcher thread.
    """

    def __init__(
        self,
        logger: logging.Logger,
        *,
        stderr_copy: IO[str] | None = None,
        sync_stdout: IO[bytes] | None = None,
        sync_stderr: IO[bytes] | None = None,
    ) -> None:
        self.logger = logger
        self.pid: int | None = None
        self._stderr_copy = stderr_copy
        self._sinks: dict[int, IO[bytes] | None] = {
            STDIO_STDOUT: sync_stdout,
            STDIO_STDERR: sync_stderr,
        }
        self._partial: dict[int, bytes] = {STDIO_STDOUT: b"", STDIO_STDERR: b""}
        self._tail: collections.deque[tuple[int, str]] = collections.deque(maxlen=TAIL_LINES)
        self._tail_lock = threading.Lock()  # also guards the two stream fields below
        self._open_streams = 0
        self._when_closed: list[Callable[[], None]] = []
        self._parser = StderrLineParser()
        self._pending = 0
        self._dropped = 0
        self._flushes: list[Future[None]] = []

    # -- producers ---------------------------------------------------------------------------

    def stderr_line(self, line: str) -> None:
        """A line of the plugin's real stderr (watcher thread)."""
        self._remember(_REAL_STDERR, line)
        # Classified here, so that only records a handler will see are queued: a flood of
        # TRACE lines behind a WARNING logger costs a parse each, and no queue space.
        entry: LogEntry | None = self._parser.feed(line)
        if entry is not None and not self.logger.isEnabledFor(entry.level):
            entry = None
        if entry is not None or self._stderr_copy is not None:
            _dispatcher().put(self, _REAL_STDERR, line, entry)

    def stdio(self, channel: int, data: bytes) -> None:
        """A chunk the plugin wrote to its redirected stdout or stderr (that channel's reader)."""
        if channel not in self._partial:
            return
        sink = self._sinks[channel]
        if sink is not None:
            try:
                sink.write(data)
                sink.flush()
            except (OSError, ValueError) as exc:  # keep draining: the plugin must not block
                _log.warning("cannot copy the plugin's output: %s", exc)
                self._sinks[channel] = None
        buffered = self._partial[channel] + data
        *lines, rest = buffered.split(b"\n")
        while len(rest) >= _MAX_PARTIAL:
            lines.append(rest[:_MAX_PARTIAL])
            rest = rest[_MAX_PARTIAL:]
        self._partial[channel] = rest
        for raw in lines:
            self._stdio_line(channel, raw, logged=sink is None)

    def stream_opened(self) -> None:
        """A stdio stream (GRPCStdio, a net/rpc stdout or stderr stream) is being read."""
        with self._tail_lock:
            self._open_streams += 1

    def stream_closed(self, *channels: int) -> None:
        """That stream ended: a last line without a newline still counts."""
        for channel in channels:
            rest = self._partial.get(channel)
            if rest:
                self._partial[channel] = b""
                self._stdio_line(channel, rest, logged=self._sinks[channel] is None)
        with self._tail_lock:
            self._open_streams -= 1
            if self._open_streams:
                return
            callbacks, self._when_closed = self._when_closed, []
        for callback in callbacks:
            callback()

    def streams_closed(self) -> Future[None]:
        """Resolves once no stdio stream is open (at once if none is)."""
        future: Future[None] = Future()
        if not self.when_streams_closed(lambda: future.set_result(None)):
            future.set_result(None)
        return future

    def when_streams_closed(self, callback: Callable[[], None]) -> bool:
        """Call ``callback`` (from the closing thread) once no stdio stream is open; returns
        False, without calling it, if none is. A dead plugin's last printed lines arrive on a
        stream: its tail waits for them.
        """
        with self._tail_lock:
            if not self._open_streams:
                return False
            self._when_closed.append(callback)
            return True

    def close(self) -> None:
        """The plugin is gone: log how many lines were dropped, if any (watcher thread)."""
        _dispatcher().put(self, _CLOSE, "", None)

    def _stdio_line(self, channel: int, raw: bytes, *, logged: bool) -> None:
        line = raw.decode("utf-8", "replace").rstrip("\r")
        self._remember(channel, line)
        level = level_prefix(line, logging.INFO)
        if logged and self.logger.isEnabledFor(level):
            _dispatcher().put(self, channel, line, LogEntry(level, line))

    def _remember(self, source: int, line: str) -> None:
        with self._tail_lock:
            self._tail.append((source, line[:_KEPT_CHARS]))

    # -- consumers ---------------------------------------------------------------------------

    def tail(self) -> list[str]:
        """The last lines the plugin wrote, readable and bounded (for error messages).

        hclog JSON lines are rendered as ``LEVEL message: key=value``; lines the plugin
        printed to its stdout are marked ``[stdout]``.
        """
        with self._tail_lock:
            entries = list(self._tail)
        lines = [_bounded(_render(source, line)) for source, line in entries]
        total = sum(len(line) + 1 for line in lines)
        while lines and total > TAIL_CHARS:
            total -= len(lines.pop(0)) + 1
        return lines

    def flushed(self) -> Future[None]:
        """Resolves once every line queued so far has been handled (or dropped)."""
        return _dispatcher().flushed(self)

    # -- on the dispatcher thread ------------------------------------------------------------

    def _emit(self, source: int, line: str, entry: LogEntry | None, dropped: int) -> None:
        logger = self.logger
        if dropped:
            logger.warning(
                "%d lines of plugin output were dropped: a log handler is too slow", dropped
            )
        if source == _REAL_STDERR:
            self._copy(line)
        if entry is None:
            return
        extra: dict[str, Any] = {
            "plugin_pid": self.pid,
            "plugin_fields": entry.fields,
            "plugin_stream": "stdout" if source == STDIO_STDOUT else "stderr",
        }
        if entry.module is not None:
            extra["plugin_module"] = entry.module
        message = format_fields(entry.message, entry.fields)
        record = logger.makeRecord(
            logger.name, entry.level, "(plugin)", 0, message, (), None, extra=extra
        )
        logger.handle(record)

    def _copy(self, line: str) -> None:
        copy = self._stderr_copy
        if copy is None:
            return
        try:
            copy.write(line + "\n")
            copy.flush()
        except (OSError, ValueError):
            self._stderr_copy = None


def _render(source: int, line: str) -> str:
    if source == _REAL_STDERR:
        return render_line(line)
    return f"[stdout] {line}" if source == STDIO_STDOUT else line


def _bounded(line: str) -> str:
    if len(line) <= TAIL_LINE_CHARS:
        return line
    return f"{line[:TAIL_LINE_CHARS]}… ({len(line)} characters)"


class _Dispatcher:
    """The one thread that runs logging handlers (and ``stderr=`` copies) for plugin output.

    ``_queue``, ``_bytes`` and every PluginOutput's ``_pending``/``_dropped``/``_flushes``
    are guarded by ``_cond``; producers are the watcher thread and stdio readers, the only
    consumer is this thread.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        # (output, source, line, entry, lines of that output dropped just before this one)
        self._queue: collections.deque[tuple[PluginOutput, int, str, LogEntry | None, int]] = (
            collections.deque()
        )
        self._bytes = 0
        self._thread: threading.Thread | None = None

    def put(self, output: PluginOutput, source: int, line: str, entry: LogEntry | None) -> None:
        with self._cond:
            if source != _CLOSE and (
                len(self._queue) >= MAX_QUEUED_LINES or self._bytes + len(line) > MAX_QUEUED_BYTES
            ):
                output._dropped += 1
                return
            self._queue.append((output, source, line, entry, output._dropped))
            output._dropped = 0
            self._bytes += len(line)
            output._pending += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="goplugin-log-dispatch", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def flushed(self, output: PluginOutput) -> Future[None]:
        future: Future[None] = Future()
        with self._cond:
            if output._pending:
                output._flushes.append(future)
                return future
        future.set_result(None)
        return future

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                output, source, line, entry, dropped = self._queue.popleft()
                self._bytes -= len(line)
            try:
                output._emit(source, line, entry, dropped)
            except Exception:  # a broken handler must not stop the others' logging
                _log.exception("error while logging plugin output")
            with self._cond:
                output._pending -= 1
                if output._pending or not output._flushes:
                    continue
                flushes, output._flushes = output._flushes, []
            for future in flushes:
                future.set_result(None)


# Created once, by the first line any thread queues (double-checked under the lock).
_instance: _Dispatcher | None = None
_instance_lock = threading.Lock()


def _dispatcher() -> _Dispatcher:
    global _instance
    if _instance is None:
        with _instance_lock:
            if _instance is None:
                _instance = _Dispatcher()
    return _instance


def _reset_after_fork() -> None:
    # The child's thread is gone and the queue holds the parent's plugins' lines.
    global _instance, _instance_lock
    _instance = None
    _instance_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
