"""Rows, the one table, the targets and the JSON record of a run."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._stats import median, paired_ratio, percentile

__all__ = ["Row", "Target", "render_table", "render_targets", "write_json"]


@dataclass
class Row:
    """One line of the table: what was measured, its samples per round, and its baseline.

    ``rounds`` holds the samples of each round in the row's unit (per-call values or one
    value per round). For rates (``higher_is_better``) the "p95" column is the slow tail:
    the 5th percentile of the rate, i.e. the 95th of the time it stands for.
    """

    section: str
    key: str
    label: str
    unit: str
    rounds: list[list[float]] = field(default_factory=list)
    baseline: str | None = None
    higher_is_better: bool = False
    note: str = ""
    na: str | None = None

    @property
    def samples(self) -> list[float]:
        return [v for r in self.rounds for v in r]

    @property
    def median(self) -> float:
        return median(self.samples)

    @property
    def p95(self) -> float:
        return percentile(self.samples, 5 if self.higher_is_better else 95)


@dataclass(frozen=True)
class Target:
    """A claim the table must back: ``check`` gives (measured text, passed) or None if n/a."""

    text: str
    check: Callable[[dict[str, Row]], tuple[str, bool] | None]


def ratio(rows: dict[str, Row], key: str) -> float:
    row = rows[key]
    base = rows.get(row.baseline or "")
    if base is None or row.na or base.na:
        return math.nan
    return paired_ratio(row.rounds, base.rounds)


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "—"
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def render_table(rows: Sequence[Row]) -> str:
    by_key = {r.key: r for r in rows}
    header = ("", "median", "p95", "unit", "× baseline", "baseline / note")
    lines: list[tuple[str, ...]] = []
    section = None
    for row in rows:
        if row.section != section:
            section = row.section
            lines.append((f"## {section}",))
        if row.na:
            lines.append((f"  {row.label}", "n/a", "", row.unit, "", row.na))
            continue
        is_base = row.baseline is None or row.baseline == row.key
        r = 1.0 if is_base else ratio(by_key, row.key)
        base_label = "baseline" if is_base else by_key[row.baseline or ""].label
        note = base_label + (f"; {row.note}" if row.note else "")
        lines.append(
            (f"  {row.label}", _fmt(row.median), _fmt(row.p95), row.unit, f"{r:.2f}×", note)
        )
    rows_only = [line for line in [header, *lines] if len(line) > 1]
    widths = [max(len(line[i]) for line in rows_only) for i in range(5)]
    out = []
    for line in [header, *lines]:
        if len(line) == 1:
            out.append(line[0])
            continue
        cells = [line[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(line[1:5], widths[1:], strict=False)
        ]
        out.append("  ".join(cells) + "  " + line[5])
    return "\n".join(out)


def render_targets(targets: Sequence[Target], rows: Sequence[Row]) -> list[tuple[str, str]]:
    """(status, line) per target: PASS, MISS, or N/A when a row it needs was not measured."""
    by_key = {r.key: r for r in rows}
    out = []
    for target in targets:
        try:
            result = target.check(by_key)
        except KeyError:
            result = None
        if result is None:
            out.append(("N/A", f"{target.text}: not measured in this run"))
            continue
        measured, passed = result
        out.append(("PASS" if passed else "MISS", f"{target.text}: {measured}"))
    return out


def write_json(path: Path, meta: dict[str, Any], rows: Sequence[Row], targets: list[Any]) -> None:
    by_key = {r.key: r for r in rows}
    record = {
        "meta": meta,
        "rows": [
            {
                "section": r.section,
                "key": r.key,
                "label": r.label,
                "unit": r.unit,
                "median": None if r.na else r.median,
                "p95": None if r.na else r.p95,
                "ratio": None if r.na or r.baseline is None else ratio(by_key, r.key),
                "baseline": r.baseline,
                "higher_is_better": r.higher_is_better,
                "note": r.note,
                "na": r.na,
                "rounds": r.rounds,
            }
            for r in rows
        ],
        "targets": [{"status": s, "text": t} for s, t in targets],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, allow_nan=True) + "\n")
