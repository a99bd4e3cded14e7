"""The claims the table must back, each checked against rows of the same run."""

from __future__ import annotations

from ._report import Row, Target
from ._stats import median, paired_ratio, sign_test_threshold

__all__ = ["TARGETS"]


def _ratio(rows: dict[str, Row], key: str, base: str) -> float | None:
    row, baseline = rows[key], rows[base]
    if row.na or baseline.na or not row.rounds or not baseline.rounds:
        return None
    return paired_ratio(row.rounds, baseline.rounds)


def _at_most(key: str, base: str, limit: float) -> Target:
    def check(rows: dict[str, Row]) -> tuple[str, bool] | None:
        r = _ratio(rows, key, base)
        return None if r is None else (f"{r:.2f}× (limit {limit:.2f}×)", r <= limit)

    return Target(f"{key} ≤ {limit:g}× {base}", check)


def _at_least(key: str, base: str, share: float) -> Target:
    def check(rows: dict[str, Row]) -> tuple[str, bool] | None:
        r = _ratio(rows, key, base)
        return None if r is None else (f"{r:.0%} (at least {share:.0%})", r >= share)

    return Target(f"{key} ≥ {share:.0%} of {base}", check)


def _faster(key: str, than: str) -> Target:
    """Faster means more than noise: a lower median in significantly many paired rounds."""

    def check(rows: dict[str, Row]) -> tuple[str, bool] | None:
        r = _ratio(rows, key, than)
        row, other = rows[key], rows[than]
        if r is None or len(row.rounds) != len(other.rounds):
            return None
        wins = sum(median(a) < median(b) for a, b in zip(row.rounds, other.rounds, strict=True))
        need = sign_test_threshold(len(row.rounds))
        text = f"{r:.3f}× its latency, faster in {wins} of {len(row.rounds)} rounds"
        return f"{text} (needs {need} for p < 0.05)", r < 1 and wins >= need

    return Target(f"{key} faster than {than}", check)


def _under(key: str, limit: float, unit: str) -> Target:
    def check(rows: dict[str, Row]) -> tuple[str, bool] | None:
        row = rows[key]
        if row.na or not row.rounds:
            return None
        worst = max(row.samples)
        return f"slowest run {worst:.2f} {unit} (limit {limit:g} {unit})", worst < limit

    return Target(f"{key} < {limit:g} {unit}", check)


TARGETS = [
    # The SDK costs nothing over raw grpcio on the same Python→Go call.
    _at_most("unary.py-go", "unary.raw-go", 1.05),
    _at_most("unary.py-go", "unary.go-go", 3.0),
    _faster("unary.go-py", "unary.go-plugin-python"),
    _at_most("unary.go-py", "unary.go-go", 4.0),
    # As specified: against `python -c "import grpc"` run to its exit ...
    _at_most("start.handshake.py-kv.warm", "start.handshake.import-grpc-exit.warm", 1.2),
    _at_most("start.handshake.py-kv.cold", "start.handshake.import-grpc-exit.cold", 1.2),
    # ... and stricter, against the import measured to a printed line, like the handshake.
    _at_most("start.handshake.py-kv.warm", "start.handshake.import-grpc.warm", 1.2),
    _at_least("mib.py-go", "mib.go-go", 0.5),
    _at_least("mib.go-py", "mib.go-go", 0.5),
    _under("scale.py-go", 10, "s"),
    _under("scale.aio-go", 10, "s"),
    _under("scale.aioc-go", 10, "s"),
]
