"""Percentiles by linear interpolation and UTC buckets: pure tables and properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ongoingai.query.buckets import Bucket, bucket_start
from ongoingai.query.percentiles import interpolate, percentile, rank_of, wanted_positions


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [
        ([], 50, 0.0),
        ([7], 50, 7.0),
        ([7], 99, 7.0),
        ([50, 400], 50, 225.0),
        ([50, 400], 95, 382.5),
        ([50, 400], 99, 396.5),
        ([0, 100, 200, 300, 1000], 50, 200.0),
        ([0, 100, 200, 300, 1000], 95, 860.0),
        ([0, 100, 200, 300, 1000], 99, 972.0),
        ([5, 5, 5, 5], 95, 5.0),
        (list(range(1, 101)), 50, 50.5),
        (list(range(1, 101)), 99, 99.01),
    ],
    ids=["empty", "single-p50", "single-p99", "two-p50", "two-p95", "two-p99", "five-p50", "five-p95",
         "five-p99", "all-equal", "hundred-p50", "hundred-p99"],
)  # fmt: skip
def test_percentile_table(values: list[int], pct: int, expected: float) -> None:
    assert percentile(values, pct) == pytest.approx(expected, abs=1e-12)


def reference(values: list[int], p: float) -> float:
    """The spec's words, in floating point: rank = p×(n−1), between floor(rank) and the next."""
    rank = p * (len(values) - 1)
    low = int(rank)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (rank - low)


@given(st.lists(st.integers(0, 10**7), min_size=1, max_size=300), st.sampled_from([50, 95, 99]))
def test_exact_interpolation_agrees_with_the_float_definition(values: list[int], pct: int) -> None:
    values.sort()
    assert percentile(values, pct) == pytest.approx(reference(values, pct / 100), rel=1e-9, abs=1e-6)


@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=300), st.sampled_from([50, 95, 99]))
def test_the_positions_sql_returns_are_enough(values: list[int], pct: int) -> None:
    values.sort()
    n = len(values)
    picked = {k: values[k] for k in wanted_positions(n)}

    assert len(picked) <= 8
    assert interpolate(picked, n, pct) == percentile(values, pct)
    assert min(picked) == 0 and max(picked) == n - 1


@pytest.mark.parametrize(
    ("n", "pct", "rank"), [(1, 99, (0, 0)), (2, 95, (0, 95)), (5, 95, (3, 80)), (0, 50, (0, 0))]
)
def test_ranks_are_integer_floor_and_remainder(n: int, pct: int, rank: tuple[int, int]) -> None:
    assert rank_of(n, pct) == rank


MONDAY = datetime(2025, 1, 6, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "bucket", "expected"),
    [
        (
            datetime(2025, 1, 6, 9, 59, 59, 999999, tzinfo=UTC),
            Bucket.HOUR,
            datetime(2025, 1, 6, 9, tzinfo=UTC),
        ),
        (datetime(2025, 1, 6, 23, 59, tzinfo=UTC), Bucket.DAY, MONDAY),
        (MONDAY, Bucket.WEEK, MONDAY),
        (datetime(2025, 1, 12, 23, 59, 59, tzinfo=UTC), Bucket.WEEK, MONDAY),
        (datetime(2025, 1, 13, tzinfo=UTC), Bucket.WEEK, MONDAY + timedelta(days=7)),
        # 01:30 at +02:00 is the previous UTC day
        (datetime(2025, 1, 7, 1, 30, tzinfo=timezone(timedelta(hours=2))), Bucket.DAY, MONDAY),
    ],
    ids=["hour", "day", "monday", "sunday-night", "next-monday", "offset-input"],
)
def test_buckets_truncate_in_utc_and_weeks_start_monday(
    value: datetime, bucket: Bucket, expected: datetime
) -> None:
    assert bucket_start(value, bucket) == expected
