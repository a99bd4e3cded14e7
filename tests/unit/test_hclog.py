"""Plugin stderr lines -> logging levels and fields, and records -> hclog JSON."""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goplugin._protocol.hclog import (
    TRACE,
    HclogJSONFormatter,
    StderrLineParser,
    format_fields,
    is_hclog_timestamp,
    level_from_name,
)


def test_hclog_json_line_keeps_level_message_and_fields() -> None:
    line = (
        '{"@level":"debug","@message":"message from plugin",'
        '"@timestamp":"2026-11-25T15:35:49.709184Z","foo":"bar","@module":"greeter"}'
    )
    entry = StderrLineParser().feed(line)
    assert entry.level == logging.DEBUG
    assert entry.message == "message from plugin"
    assert entry.fields == {"foo": "bar"}
    assert entry.module == "greeter"


def test_levels() -> None:
    parser = StderrLineParser()
    for name, level in [
        ("trace", TRACE),
        ("DEBUG", logging.DEBUG),
        ("info", logging.INFO),
        ("warn", logging.WARNING),
        ("error", logging.ERROR),
    ]:
        assert parser.feed(f'{{"@level":"{name}","@message":"m"}}').level == level


def test_level_names_are_go_hclogs() -> None:
    """LevelFromString: trimmed, any case, and "warning" is not one of them (a person's
    GOPLUGIN_LOG_LEVEL may say it, a log line may not)."""
    parser = StderrLineParser()
    assert parser.feed('{"@level":" Info ","@message":"m"}').level == logging.INFO
    line = '{"@level":"warning","@message":"m"}'
    assert (parser.feed(line).level, parser.feed(line).message) == (logging.DEBUG, line)
    assert level_from_name("warning") == logging.WARNING


def test_json_may_be_indented_and_null_is_json() -> None:
    parser = StderrLineParser()
    assert parser.feed(' \t{"@level":"warn","@message":"m"}').message == "m"
    parser.feed("panic: boom")
    # In panic mode a plain line is an error, but "null" is JSON of no level: debug.
    assert parser.feed("null").level == logging.DEBUG
    assert parser.feed("nullish").level == logging.ERROR


@pytest.mark.parametrize(
    "stamp",
    [
        "2024-02-29T23:59:59.123456Z",
        "2024-01-02T03:04:05.000001+02:00",
        "2024-01-02T03:04:05,000001Z",
        "2024-01-02T3:04:05.000001Z",
        "2024-01-02T03:04:05.000001-24:00",
        "2000-02-29T00:00:00.000000Z",
    ],
)
def test_timestamps_go_parses(stamp: str) -> None:
    assert is_hclog_timestamp(stamp)
    line = json.dumps({"@level": "warn", "@message": "m", "@timestamp": stamp})
    assert StderrLineParser().feed(line).level == logging.WARNING


@pytest.mark.parametrize(
    "stamp",
    [
        "2024-01-02T03:04:05.00001Z",
        "2024-01-02T03:04:05.0000001Z",
        "2024-01-02T03:04:05Z",
        "2023-02-29T03:04:05.000001Z",
        "1900-02-29T03:04:05.000001Z",
        "2024-13-02T03:04:05.000001Z",
        "2024-04-31T03:04:05.000001Z",
        "2024-01-02T24:04:05.000001Z",
        "2024-01-02T03:60:05.000001Z",
        "2024-01-02T03:04:60.000001Z",
        "2024-01-02T03:04:05.000001+25:00",
        "2024-01-02T03:04:05.000001+0200",
        "2024-01-02T03:04:05.000001z",
        "2024-01-02 03:04:05.000001Z",
        "\u0662024-01-02T03:04:05.000001Z",
    ],
)
def test_a_timestamp_go_cannot_parse_makes_the_line_plain(stamp: str) -> None:
    assert not is_hclog_timestamp(stamp)
    line = json.dumps({"@level": "warn", "@message": "m", "@timestamp": stamp})
    assert (StderrLineParser().feed(line).level, StderrLineParser().feed(line).message) == (
        logging.DEBUG,
        line,
    )


def test_unknown_level_logs_the_raw_line_at_debug() -> None:
    line = '{"@level":"loud","@message":"m"}'
    entry = StderrLineParser().feed(line)
    assert (entry.level, entry.message) == (logging.DEBUG, line)


def test_non_string_hclog_fields_do_not_crash_us_like_they_crash_go() -> None:
    line = '{"@level":5,"@message":"m"}'
    entry = StderrLineParser().feed(line)
    assert (entry.level, entry.message, entry.fields) == (logging.DEBUG, line, {})


def test_prefixed_plain_lines() -> None:
    parser = StderrLineParser()
    assert parser.feed("[WARN] disk almost full").level == logging.WARNING
    assert parser.feed("[ERROR] boom").level == logging.ERROR
    assert parser.feed("[TRACE] x").level == TRACE
    assert parser.feed("plain").level == logging.DEBUG


def test_panic_mode_turns_following_plain_lines_into_errors() -> None:
    for start in (
        "panic: runtime error",
        "fatal error: out of memory",
        "Traceback (most recent call last):",
    ):
        parser = StderrLineParser()
        assert parser.feed("before").level == logging.DEBUG
        assert parser.feed(start).level == logging.ERROR
        assert parser.feed("goroutine 1 [running]:").level == logging.ERROR
        assert parser.feed('{"@level":"info","@message":"m"}').level == logging.INFO


def test_format_fields_like_hclog_text() -> None:
    assert format_fields("m", {}) == "m"
    assert format_fields("m", {"a": "b", "n": 3, "s": "two words"}) == 'm: a=b n=3 s="two words"'


def test_formatter_writes_what_the_go_host_parses() -> None:
    logger = logging.getLogger("kv")
    record = logger.makeRecord(
        "kv", logging.WARNING, __file__, 1, "put %s", ("x",), None, extra={"key": "hello"}
    )
    out = json.loads(HclogJSONFormatter().format(record))
    assert out["@level"] == "warn"
    assert out["@message"] == "put x"
    assert out["@module"] == "kv"
    assert out["key"] == "hello"
    stamp = out["@timestamp"]
    # Go's layout "2006-01-02T15:04:05.000000Z07:00": exactly six fractional digits.
    assert len(stamp) == len("2006-01-02T15:04:05.000000Z") and stamp.endswith("Z")
    entry = StderrLineParser().feed(json.dumps(out))
    assert (entry.level, entry.message, entry.fields) == (
        logging.WARNING,
        "put x",
        {"key": "hello"},
    )


def test_formatter_puts_exceptions_in_the_error_field() -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "failed", (), __import__("sys").exc_info()
        )
    out = json.loads(HclogJSONFormatter().format(record))
    assert "ValueError: bad" in out["error"]


@given(st.text(max_size=500))
def test_any_line_is_classified(line: str) -> None:
    entry = StderrLineParser().feed(line)
    assert entry.level in (TRACE, logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR)
