"""Sans-IO hclog bridge: a plugin's stderr lines <-> stdlib ``logging`` records.

Host side: :class:`StderrLineParser` turns each stderr line into a :class:`LogEntry` with the
level go-plugin's Go host would give it (client.go ``logStderr``): hclog JSON lines keep their
level, message and fields; ``[LEVEL]``-prefixed lines take that level; a Go panic or a Python
traceback switches into "panic mode", where every following plain line is an error.

Plugin side: :class:`HclogJSONFormatter` writes records as hclog JSON, so a Go host logs a Python
plugin's messages at the right level with their fields.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from typing import Any

__all__ = [
    "TRACE",
    "HclogJSONFormatter",
    "LogEntry",
    "StderrLineParser",
    "format_fields",
    "hclog_level_name",
    "is_hclog_timestamp",
    "level_from_name",
    "level_prefix",
    "render_line",
]

#: hclog's Trace level, below DEBUG; registered with :mod:`logging` under the name "TRACE".
TRACE = 5
logging.addLevelName(TRACE, "TRACE")

# go-hclog's LevelFromString (after TrimSpace and lower-casing): what a line's @level may say.
_HCLOG_LEVELS: Mapping[str, int] = {
    "trace": TRACE,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}
# Names a person may give us (GOPLUGIN_LOG_LEVEL): hclog's, and Python's "warning".
_LEVELS: Mapping[str, int] = {**_HCLOG_LEVELS, "warning": logging.WARNING}
# JSON's whitespace, which may surround the object on a line.
_JSON_SPACE = " \t\r\n"
_PREFIXES = (
    ("[TRACE]", TRACE),
    ("[DEBUG]", logging.DEBUG),
    ("[INFO]", logging.INFO),
    ("[WARN]", logging.WARNING),
    ("[ERROR]", logging.ERROR),
)
# Lines that start a crash dump: Go's runtime, and Python's default excepthook.
_PANIC_STARTS = ("panic: ", "fatal error: ", "Traceback (most recent call last):")


class LogEntry:
    """One stderr line, classified. (Not a dataclass: plugins import this module at every
    launch, and a dataclass costs about a millisecond to create.)"""

    __slots__ = ("fields", "level", "message", "module")

    def __init__(
        self,
        level: int,
        message: str,
        fields: dict[str, Any] | None = None,
        module: str | None = None,
    ) -> None:
        self.level = level
        self.message = message
        self.fields: dict[str, Any] = {} if fields is None else fields
        #: hclog's ``@module`` (the plugin's logger name), when the line carried one.
        self.module = module

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LogEntry):
            return NotImplemented
        return (self.level, self.message, self.fields, self.module) == (
            other.level,
            other.message,
            other.fields,
            other.module,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaced

    def __repr__(self) -> str:
        return (
            f"LogEntry(level={self.level!r}, message={self.message!r}, "
            f"fields={self.fields!r}, module={self.module!r})"
        )


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
    """The line as go-plugin's host reads hclog JSON (log_entry.go ``parseJSON``), or None
    when that host would treat it as a plain line."""
    start = line.lstrip(_JSON_SPACE)[:1]
    if start != "{":
        if start == "n" and line.strip(_JSON_SPACE) == "null":
            return LogEntry(logging.DEBUG, line)  # JSON, of no level: the raw line at debug
        return None
    import json  # here, not at the top: a plugin's start logs nothing before its handshake

    try:
        raw = json.loads(line)
    except ValueError:
        return None
    if not isinstance(raw, dict):
        return None
    message = raw.pop("@message", "")
    level_name = raw.pop("@level", "")
    # The timestamp is checked, not kept: the host logs the line when it reads it, as Go's
    # host does with its own clock. A line whose timestamp Go cannot parse is a plain line
    # there. Go's host crashes on non-string values of these three; we read such a line as
    # plain text instead.
    stamp = raw.pop("@timestamp", None)
    if (
        not isinstance(message, str)
        or not isinstance(level_name, str)
        or (stamp is not None and not (isinstance(stamp, str) and is_hclog_timestamp(stamp)))
    ):
        return None
    level = _HCLOG_LEVELS.get(level_name.strip().lower())
    if level is None:
        # go-hclog's NoLevel (and "off"): the whole raw line at debug.
        return LogEntry(logging.DEBUG, line)
    module = raw.pop("@module", None)
    return LogEntry(level, message, raw, module if isinstance(module, str) else None)


def level_prefix(line: str, default: int) -> int:
    """The level a ``[LEVEL]``-prefixed text line asks for, else ``default``."""
    if line.startswith("["):
        for prefix, level in _PREFIXES:
            if line.startswith(prefix):
                return level
    return default


def render_line(line: str) -> str:
    """A stderr line as a person reads it: hclog JSON becomes ``LEVEL message: key=value``.

    For error messages (the plugin's stderr tail): a Go plugin's JSON lines carry a timestamp
    and quoting that bury the message; other lines are returned as they are.
    """
    entry = _parse_json(line)
    if entry is None or entry.message == line:
        return line
    name = logging.getLevelName(entry.level)
    name = "WARN" if name == "WARNING" else name
    return f"{name} {format_fields(entry.message, entry.fields)}"


# hclog's JSON time layout "2006-01-02T15:04:05.000000Z07:00" as Go's time.Parse reads it:
# the hour may have one digit, the fraction exactly six after "." or ",", the zone "Z" or
# "+hh:mm"/"-hh:mm"; the numbers are then range-checked.
_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{1,2}):([0-9]{2}):([0-9]{2})[.,][0-9]{6}"
    r"(?:Z|[+-]([0-9]{2}):([0-9]{2}))"
)
_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def is_hclog_timestamp(text: str) -> bool:
    """Whether go-plugin's host can parse ``text`` as an hclog JSON ``@timestamp``."""
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return False
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    if not 1 <= month <= 12 or not 1 <= day <= _DAYS[month - 1] or hour > 23:
        return False
    if month == 2 and day == 29 and not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
        return False
    if minute > 59 or second > 59:
        return False
    zone_hour, zone_minute = match.group(7), match.group(8)
    return zone_hour is None or (int(zone_hour) <= 24 and int(zone_minute) <= 60)


def format_fields(message: str, fields: Mapping[str, Any]) -> str:
    """hclog's text form: ``message: key=value key=value``."""
    if not fields:
        return message
    import json

    parts = []
    for key, value in fields.items():
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        if not text or any(c in text for c in ' "=\n'):
            text = json.dumps(text)
        parts.append(f"{key}={text}")
    return f"{message}: {' '.join(parts)}"


def level_from_name(name: str) -> int | None:
    """The logging level of an hclog level name (``trace``, ``debug``, ``info``, ``warn``,
    ``error``; any case), or None."""
    return _LEVELS.get(name.strip().lower())


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
        import json  # imported on the first log line: 1.5 % of a plugin's start otherwise

        return json.dumps(out, default=str, ensure_ascii=False)
