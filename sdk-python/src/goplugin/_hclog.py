"""Sans-IO hclog bridge: a plugin's stderr lines <-> stdlib ``logging`` records.

Host side: :class:`StderrLineParser` turns each stderr line into a :class:`LogEntry` with the
level go-plugin's Go host would give it (client.go ``logStderr``): hclog JSON lines keep their
level, message and fields; ``[LEVEL]``-prefixed lines take that level; a Go panic or a Python
traceback switches into "panic mode", where every following plain line is an error.

Plugin side: :class:`HclogJSONFormatter` writes records as hclog JSON, so a Go host logs a Python
plugin's messages at the right level with their fields.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "TRACE",
    "HclogJSONFormatter",
    "LogEntry",
    "StderrLineParser",
    "format_fields",
    "hclog_level_name",
]

#: hclog's Trace level, below DEBUG; registered with :mod:`logging` under the name "TRACE".
TRACE = 5
logging.addLevelName(TRACE, "TRACE")

_LEVELS: Mapping[str, int] = {
    "trace": TRACE,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
_PREFIXES = (
    ("[TRACE]", TRACE),
    ("[DEBUG]", logging.DEBUG),
    ("[INFO]", logging.INFO),
    ("[WARN]", logging.WARNING),
    ("[ERROR]", logging.ERROR),
)
# Lines that start a crash dump: Go's runtime, and Python's default excepthook.
_PANIC_STARTS = ("panic: ", "fatal error: ", "Traceback (most recent call last):")


@dataclass
class LogEntry:
    """One stderr line, classified."""

    level: int
    message: str
    fields: dict[str, Any] = field(default_factory=dict)
    #: hclog's ``@module`` (the plugin's logger name), when the line carried one.
    module: str | None = None


class StderrLineParser:
    """Classifies stderr lines one at a time; holds only the panic-mode flag."""

    __slots__ = ("in_panic",)

    def __init__(self) -> None:
        self.in_panic = False

    def feed(self, line: str) -> LogEntry:
        entry = _parse_json(line)
        if entry is not None:
            return entry
        for prefix, level in _PREFIXES:
            if line.startswith(prefix):
                return LogEntry(level, line)
        if line.startswith(_PANIC_STARTS):
            self.in_panic = True
        return LogEntry(logging.ERROR if self.in_panic else logging.DEBUG, line)


def _parse_json(line: str) -> LogEntry | None:
    if not line.startswith("{"):
        return None
    try:
        raw = json.loads(line)
    except ValueError:
        return None
    if not isinstance(raw, dict):
        return None
    message = raw.pop("@message", "")
    level_name = raw.pop("@level", "")
    # Dropped, not parsed: the host logs the line when it reads it, as Go's host does with its
    # own clock. Go's host crashes on non-string values of these three; we read such a line
    # as plain text instead.
    stamp = raw.pop("@timestamp", "")
    if (
        not isinstance(message, str)
        or not isinstance(level_name, str)
        or not isinstance(stamp, str)
    ):
        return None
    level = _LEVELS.get(level_name.lower())
    if level is None:
        # go-hclog's NoLevel: the whole raw line at debug.
        return LogEntry(logging.DEBUG, line)
    module = raw.pop("@module", None)
    return LogEntry(level, message, raw, module if isinstance(module, str) else None)


def format_fields(message: str, fields: Mapping[str, Any]) -> str:
    """hclog's text form: ``message: key=value key=value``."""
    if not fields:
        return message
    parts = []
    for key, value in fields.items():
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        if not text or any(c in text for c in ' "=\n'):
            text = json.dumps(text)
        parts.append(f"{key}={text}")
    return f"{message}: {' '.join(parts)}"


def hclog_level_name(levelno: int) -> str:
    if levelno <= TRACE:
        return "trace"
    if levelno <= logging.DEBUG:
        return "debug"
    if levelno <= logging.INFO:
        return "info"
    if levelno <= logging.WARNING:
        return "warn"
    return "error"


# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is a field.
_RECORD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


class HclogJSONFormatter(logging.Formatter):
    """Formats records as hclog JSON lines (``@level``, ``@message``, ``@module``, ``@timestamp``).

    Fields passed with ``extra={...}`` become hclog key/value pairs; an exception becomes the
    ``error`` field, as hclog does with Go errors.
    """

    def format(self, record: logging.LogRecord) -> str:
        seconds = int(record.created)
        micros = int((record.created - seconds) * 1_000_000)
        out: dict[str, Any] = {
            "@level": hclog_level_name(record.levelno),
            "@message": record.getMessage(),
            "@module": record.name,
            # Go parses "2006-01-02T15:04:05.000000Z07:00": exactly six fractional digits.
            "@timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
            + f".{micros:06d}Z",
        }
        out.update(
            (key, value)
            for key, value in vars(record).items()
            if key not in _RECORD_ATTRS and not key.startswith("_")
        )
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)
