"""Order statistics and paired ratios: pure functions over lists of floats."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["median", "paired_ratio", "percentile", "sign_test_threshold"]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by the nearest-rank method; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def median(values: Sequence[float]) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def paired_ratio(rounds: Sequence[Sequence[float]], base: Sequence[Sequence[float]]) -> float:
    """Median over rounds of (this round's median / the baseline's median in the same round).

    Rounds are measured back to back, so a slow patch on the machine hits both sides of each
    quotient; the median then drops the rounds where it hit only one. Falls back to the ratio
    of the pooled medians when the rounds do not pair up.
    """
    if len(rounds) == len(base) and rounds:
        quotients = [median(r) / median(b) for r, b in zip(rounds, base, strict=True) if r and b]
        if quotients:
            return median(quotients)
    pooled = median([v for r in base for v in r])
    return median([v for r in rounds for v in r]) / pooled if pooled else math.nan


def sign_test_threshold(n: int, alpha: float = 0.05) -> int:
    """Fewest wins in n paired rounds that a coin flip reaches with probability below alpha.

    One-sided sign test: if two rows were equally fast, each would win a round half the
    time; a "faster" claim needs more wins than chance plausibly gives.
    """
    tail = 0.0
    for wins in range(n, -1, -1):
        tail += math.comb(n, wins) / 2**n
        if tail >= alpha:
            return wins + 1
    return 0
