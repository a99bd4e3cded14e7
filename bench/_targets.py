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
    # Issue 13: a grpcio plugin starts in at most 1.1x `python -c "import grpc"` (to its exit) ...
    _at_most("start.handshake.py-kv.warm", "start.handshake.import-grpc-exit.warm", 1.1),
    _at_most("start.handshake.py-kv.cold", "start.handshake.import-grpc-exit.cold", 1.1),
    _at_most("start.instr.goplugin", "start.instr.import-grpc-exit", 1.1),
    # ... and stricter, against the import measured to a printed line, like the handshake.
    _at_most("start.handshake.py-kv.warm", "start.handshake.import-grpc.warm", 1.1),
    _at_most("start.instr.goplugin", "start.instr.import-grpc", 1.1),
    _at_least("mib.py-go", "mib.go-go", 0.5),
    _at_least("mib.go-py", "mib.go-go", 0.5),
    # The pure engine (issue 13), in the server sections: faster than grpcio's server per
    # call, in streams and at start; big messages and AutoMTLS within bounds.
    _faster("servers.lat.goplugin-aio-pure", "servers.lat.goplugin"),
    _faster("servers.lat.goplugin-pure", "servers.lat.goplugin"),
    _at_least("mib.srv-goplugin-aio-pure", "mib.go-go", 0.8),
    _at_least("mib.srv-goplugin-pure", "mib.go-go", 0.8),
    _at_most("tls.unary.srv-goplugin-pure.tls", "tls.unary.srv-goplugin-pure.plain", 1.15),
    _at_most("tls.unary.srv-goplugin-aio-pure.tls", "tls.unary.srv-goplugin-aio-pure.plain", 1.15),
    _at_most(
        "start.handshake.srv-goplugin-pure.warm", "start.handshake.import-grpc-exit.warm", 0.9
    ),
    # Issue 13's goals for the pure engine against the peers, in the server sections.
    _at_most("servers.lat.goplugin-aio-pure", "servers.lat.py-plugin", 0.9),
    _at_most("servers.cpu.goplugin-aio-pure", "servers.cpu.py-plugin", 1.0),
    _at_least("bidi.srv-goplugin-aio-pure", "bidi.srv-raw-grpcio", 4.0),
    _at_least("gen.srv-goplugin-aio-pure", "gen.srv-raw-grpcio", 4.0),
    _at_least("bidi.srv-goplugin-pure", "bidi.srv-raw-grpcio", 4.0),
    _at_least("gen.srv-goplugin-pure", "gen.srv-raw-grpcio", 4.0),
    _under("scale.py-go", 10, "s"),
    _under("scale.aio-go", 10, "s"),
    _under("scale.aioc-go", 10, "s"),
]
