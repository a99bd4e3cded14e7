"""The result of ``goplugin check``: rows of pass/fail/skip with a reason, as a table or JSON.

Pure data and formatting; the probes that fill the rows live in the other ``check*`` modules.
"""

from __future__ import annotations

import enum
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ROWS", "Report", "Row", "Status"]


class Status(str, enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"


#: Every row a full check reports, in order: (name, what is checked).
ROWS: tuple[tuple[str, str], ...] = (
    ("launch", "starts and prints a handshake line"),
    ("cookie", "refuses to run without the magic cookie"),
    ("handshake", "handshake line grammar"),
    ("stdout", "nothing on stdout before the handshake"),
    ("negotiation", "version negotiation"),
    ("health", 'gRPC health: "plugin" is SERVING'),
    ("stdio", "gRPC GRPCStdio stream opens"),
    ("reflection", "gRPC server reflection"),
    ("shutdown", "gRPC GRPCController.Shutdown: exits within 2 s"),
    ("ping", "net/rpc Control.Ping"),
    ("dispense", "net/rpc Dispenser.Dispense"),
    ("quit", "net/rpc Control.Quit: exits within 2 s"),
    ("automtls", "AutoMTLS with a P-521 client certificate"),
)
_TITLES = dict(ROWS)


@dataclass
class Row:
    name: str
    status: Status
    reason: str

    @property
    def title(self) -> str:
        return _TITLES.get(self.name, self.name)

    def to_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "title": self.title,
            "status": self.status.value,
            "reason": self.reason,
        }


@dataclass
class Report:
    """What ``check`` found out about one plugin command."""

    command: list[str]
    rows: list[Row] = field(default_factory=list)
    #: The handshake line of the main launch, when there was one.
    handshake_line: str | None = None
    protocol: str | None = None
    # rows is appended to by the probes, which run on threads side by side.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str, status: Status, reason: str) -> Row:
        row = Row(name, status, reason)
        with self._lock:
            self.rows.append(row)
        return row

    def passed(self, name: str, reason: str) -> Row:
        return self.add(name, Status.PASS, reason)

    def failed(self, name: str, reason: str) -> Row:
        return self.add(name, Status.FAIL, reason)

    def skipped(self, name: str, reason: str) -> Row:
        return self.add(name, Status.SKIP, "skipped: " + reason)

    def skip_all(self, names: Sequence[str], reason: str) -> None:
        for name in names:
            self.skipped(name, reason)

    def ordered(self) -> list[Row]:
        """The rows in the table's order (probes finish in any order)."""
        rank = {name: i for i, (name, _) in enumerate(ROWS)}
        with self._lock:
            rows = list(self.rows)
        return sorted(rows, key=lambda row: rank.get(row.name, -1))

    @property
    def ok(self) -> bool:
        return all(row.status is not Status.FAIL for row in self.ordered())

    def counts(self) -> dict[str, int]:
        rows = self.ordered()
        return {s.value: sum(row.status is s for row in rows) for s in Status}

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "command": self.command,
            "ok": self.ok,
            "protocol": self.protocol,
            "handshake": self.handshake_line,
            "counts": self.counts(),
            "rows": [row.to_dict() for row in self.ordered()],
        }
        return json.dumps(data, indent=2)

    def to_table(self) -> str:
        rows = self.ordered()
        width = max((len(row.title) for row in rows), default=0)
        lines = [f"goplugin check {' '.join(self.command)}"]
        lines += [f"  {r.status.value.upper():4}  {r.title:{width}}  {r.reason}" for r in rows]
        counts = self.counts()
        lines.append(f"{counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped")
        return "\n".join(lines)
