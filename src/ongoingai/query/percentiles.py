"""Percentiles by linear interpolation (http-api.md §8 "Latency"), in exact integer arithmetic.

Sort ascending, rank = p×(n−1), interpolate between floor(rank) and the next; n = 1 → that value.
With p given in whole percent the rank is `p·(n−1)/100`, so its floor and fraction are integer
quotient and remainder: the SQL side asks only for those two rows per percentile (analytics_latency.py),
and the answer does not depend on float rounding or on the backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

PERCENTILES = (50, 95, 99)


def rank_of(n: int, pct: int) -> tuple[int, int]:
    """`(floor(rank), remainder)` where rank = pct·(n−1)/100 and the fraction is remainder/100."""
    if n <= 0:
        return 0, 0
    return divmod(pct * (n - 1), 100)


def wanted_positions(n: int) -> set[int]:
    """Every 0-based sorted position that min, max and the percentiles read for a group of `n` values."""
    if n <= 0:
        return set()
    out = {0, n - 1}
    for pct in PERCENTILES:
        low, rem = rank_of(n, pct)
        out.add(low)
        if rem:
            out.add(low + 1)
    return out


def interpolate(values: Mapping[int, int], n: int, pct: int) -> float:
    """The `pct` percentile of a group of `n` values, given (at least) its values at `wanted_positions(n)`.

    An empty group is 0.
    """
    if n <= 0:
        return 0.0
    low, rem = rank_of(n, pct)
    below = values[low]
    if rem == 0:
        return float(below)
    above = values[low + 1]
    return (below * (100 - rem) + above * rem) / 100


def percentile(sorted_values: Sequence[int], pct: int) -> float:
    """The `pct` percentile of already sorted values (0 for none)."""
    return interpolate(dict(enumerate(sorted_values)), len(sorted_values), pct)
