"""A plugin's output on the host side: bounded queue, drops counted, tail readable and bounded."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Iterator

import pytest

from goplugin._host import output as _output
from goplugin._host.output import STDIO_STDERR, STDIO_STDOUT, PluginOutput


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.entered.set()
        self.gate.wait(10)
        self.records.append(record)


@pytest.fixture
def recorded() -> Iterator[tuple[logging.Logger, Recorder]]:
    logger = logging.getLogger(f"goplugin.test.output.{time.monotonic_ns()}")
    handler = Recorder()
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, handler
    handler.gate.set()
    logger.removeHandler(handler)


def flushed(output: PluginOutput) -> None:
    output.flushed().result(10)


def hclog(level: str, message: str, **fields: object) -> str:
    stamp = "2026-01-01T00:00:00.000000Z"
    return json.dumps({"@level": level, "@message": message, "@timestamp": stamp, **fields})


def test_stderr_lines_are_logged_with_go_plugins_levels(
    recorded: tuple[logging.Logger, Recorder],
) -> None:
    logger, handler = recorded
    copy = io.StringIO()
    output = PluginOutput(logger, stderr_copy=copy)
    for line in (hclog("trace", "tick"), hclog("warn", "careful", key="v"), "plain", "panic: x"):
        output.stderr_line(line)
    flushed(output)
    got = [(r.levelno, r.getMessage(), r.plugin_stream) for r in handler.records]  # type: ignore[attr-defined]
    # TRACE is below the logger's DEBUG: not even queued.
    assert got == [
        (logging.WARNING, "careful: key=v", "stderr"),
        (logging.DEBUG, "plain", "stderr"),
        (logging.ERROR, "panic: x", "stderr"),
    ]
    assert copy.getvalue().splitlines()[-2:] == ["plain", "panic: x"]
    assert len(copy.getvalue().splitlines()) == 4  # the copy has every line


def test_printed_lines_are_logged_at_info_unless_redirected(
    recorded: tuple[logging.Logger, Recorder],
) -> None:
    logger, handler = recorded
    sink = io.BytesIO()
    output = PluginOutput(logger, sync_stderr=sink)
    output.stream_opened()
    output.stdio(STDIO_STDOUT, b"hel")
    output.stdio(STDIO_STDOUT, b"lo\n[WARN] low disk\nno newline")
    output.stdio(STDIO_STDERR, b"to the sink\n")
    output.stream_closed(STDIO_STDOUT, STDIO_STDERR)
    flushed(output)
    got = [(r.levelno, r.getMessage(), r.plugin_stream) for r in handler.records]  # type: ignore[attr-defined]
    assert got == [
        (logging.INFO, "hello", "stdout"),
        (logging.WARNING, "[WARN] low disk", "stdout"),
        (logging.INFO, "no newline", "stdout"),
    ]
    assert sink.getvalue() == b"to the sink\n"
    assert output.tail() == [
        "[stdout] hello",
        "[stdout] [WARN] low disk",
        "to the sink",
        "[stdout] no newline",
    ]


def test_a_blocked_handler_costs_bounded_memory_and_drops_are_counted(
    recorded: tuple[logging.Logger, Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    logger, handler = recorded
    monkeypatch.setattr(_output, "MAX_QUEUED_LINES", 100)
    handler.gate.clear()
    output = PluginOutput(logger)
    output.stderr_line("first")
    assert handler.entered.wait(10)  # the dispatcher is stuck in the handler
    for i in range(1000):
        output.stderr_line(f"line {i}")
    assert output._pending == 101  # the stuck record and a full queue
    assert output._dropped == 900
    future = output.flushed()
    assert not future.done()
    handler.gate.set()
    future.result(10)
    messages = [r.getMessage() for r in handler.records]
    assert messages[:3] == ["first", "line 0", "line 1"]
    assert messages[100] == "line 99"
    assert messages[101:] == []  # the drop count waits for the plugin's next line (or exit)
    output.close()
    flushed(output)
    assert [r.getMessage() for r in handler.records][101:] == [
        "900 lines of plugin output were dropped: a log handler is too slow"
    ]


def test_many_threads_feeding_many_plugins_lose_nothing_and_keep_order(
    recorded: tuple[logging.Logger, Recorder],
) -> None:
    logger, handler = recorded
    outputs = [PluginOutput(logger) for _ in range(4)]
    for pid, output in enumerate(outputs):
        output.pid = pid

    def feed(output: PluginOutput) -> None:  # one thread per plugin, as the watcher feeds it
        for i in range(500):
            output.stderr_line(str(i))

    threads = [threading.Thread(target=feed, args=(output,)) for output in outputs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for output in outputs:
        flushed(output)
    for pid in range(4):
        lines = [r.getMessage() for r in handler.records if r.plugin_pid == pid]  # type: ignore[attr-defined]
        assert lines == [str(i) for i in range(500)]


def test_the_tail_renders_hclog_and_stays_bounded() -> None:
    output = PluginOutput(logging.getLogger("goplugin.test.tail"))
    output.stderr_line(hclog("trace", "waiting for stdio data"))
    output.stderr_line(hclog("debug", "plugin address", address="/tmp/x", network="unix"))
    output.stderr_line('{"not": "hclog"}')
    assert output.tail() == [
        "TRACE waiting for stdio data",
        "DEBUG plugin address: address=/tmp/x network=unix",
        '{"not": "hclog"}',
    ]
    for i in range(100):
        output.stderr_line(f"{i} " + "x" * 100_000)
    tail = output.tail()
    assert len(tail) <= _output.TAIL_LINES
    assert sum(len(line) + 1 for line in tail) <= _output.TAIL_CHARS
    assert tail[-1].startswith("99 xxx") and tail[-1].endswith("… (4096 characters)")


def test_the_tail_is_safe_to_read_while_written() -> None:
    output = PluginOutput(logging.getLogger("goplugin.test.tail.threads"))
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            output.stderr_line("line")

    writers = [threading.Thread(target=write) for _ in range(3)]
    for writer in writers:
        writer.start()
    try:
        for _ in range(2000):
            assert all(line == "line" for line in output.tail())
    finally:
        stop.set()
        for writer in writers:
            writer.join()


def test_streams_closed_callbacks() -> None:
    output = PluginOutput(logging.getLogger("goplugin.test.streams"))
    calls: list[str] = []
    assert output.when_streams_closed(lambda: calls.append("early")) is False
    output.stream_opened()
    output.stream_opened()
    assert output.when_streams_closed(lambda: calls.append("closed")) is True
    output.stream_closed(STDIO_STDOUT)
    assert calls == []
    output.stream_closed(STDIO_STDERR)
    assert calls == ["closed"]
