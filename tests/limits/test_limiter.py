"""The limiter on the memory backend with a hand-driven clock (limits.md §3–§5, issue 8): evaluation
order, codes, Retry-After, what a refusal records, day counters, seeding and concurrency leases."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import OperationalError

from ongoingai.config import Settings
from ongoingai.limits import Denial, Limiter
from ongoingai.limits.backend import DayClock, Usage
from ongoingai.limits.memory import MemoryBackend
from ongoingai.limits.rules import LimitRules, Subject, Thresholds
from ongoingai.traces import TraceRecord
from tests.fakes.clocks import T0, ManualClock
from tests.fakes.trace_records import make_record

ORG, WS, KEY = "acme", "ws", "k1"


OFF = Thresholds()


def limiter(clock: ManualClock, key: Thresholds = OFF, workspace: Thresholds = OFF) -> Limiter:
    rules = LimitRules(key, workspace)
    return Limiter(rules, MemoryBackend(rules, clock.wall), wall=clock.wall)


def trace(
    tokens: int, cost: float, *, key: str | None = KEY, org: str = ORG, at: datetime = T0
) -> TraceRecord:
    return make_record(
        id=f"t{tokens}-{cost}",
        timestamp=at,
        org_id=org,
        workspace_id=WS,
        total_tokens=tokens,
        gateway_key_id=key,
        estimated_cost_usd=cost,
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


async def started(lim: Limiter) -> Limiter:
    await lim.start(None)
    return lim


async def test_per_key_rate_admits_n_in_a_rolling_minute_then_429_with_retry_after(
    clock: ManualClock,
) -> None:
    lim = await started(limiter(clock, key=Thresholds(requests_per_minute=3)))
    for _ in range(3):
        assert await lim.check(ORG, WS, KEY) is None
        clock.advance(10)  # events at 0, 10, 20
    refused = await lim.check(ORG, WS, KEY)  # at 30: the oldest (0) leaves at 60
    assert refused == Denial(429, "KEY_RATE_LIMIT_EXCEEDED", 30)
    assert refused.message == "request rate limit exceeded for key"
    clock.advance(29.5)  # 59.5: still inside; ceil(60 - 59.5) = 1
    assert await lim.check(ORG, WS, KEY) == Denial(429, "KEY_RATE_LIMIT_EXCEEDED", 1)
    clock.advance(0.5)  # 60: the event at 0 is exactly 60 s old and is kept (only strictly older drops)
    assert isinstance(await lim.check(ORG, WS, KEY), Denial)
    clock.advance(0.001)
    assert await lim.check(ORG, WS, KEY) is None
    assert await lim.check("acme", WS, "other") is None  # another key has its own window


async def test_a_refused_request_is_not_recorded(clock: ManualClock) -> None:
    lim = await started(limiter(clock, key=Thresholds(requests_per_minute=1)))
    assert await lim.check(ORG, WS, KEY) is None
    for _ in range(5):
        clock.advance(10)
        assert isinstance(await lim.check(ORG, WS, KEY), Denial)
    clock.advance(10.5)  # 60.5 s after the only recorded event: the five refusals left no trace
    assert await lim.check(ORG, WS, KEY) is None


async def test_a_workspace_refusal_still_consumes_the_keys_slot(clock: ManualClock) -> None:
    lim = await started(
        limiter(clock, key=Thresholds(requests_per_minute=2), workspace=Thresholds(requests_per_minute=1))
    )
    assert await lim.check(ORG, WS, KEY) is None
    refused = await lim.check(ORG, WS, KEY)
    assert refused == Denial(429, "WORKSPACE_RATE_LIMIT_EXCEEDED", 60)
    assert refused.message == "request rate limit exceeded for workspace"
    # limits.md §4 "Order effect": both key events were recorded, so the key is now full too.
    assert await lim.check(ORG, WS, KEY) == Denial(429, "KEY_RATE_LIMIT_EXCEEDED", 60)


@pytest.mark.parametrize(
    ("key", "workspace", "usage", "code"),
    [
        (
            Thresholds(tokens_per_day=10, cost_usd_per_day=1),
            Thresholds(),
            (10, 0.5),
            "KEY_DAILY_TOKENS_EXCEEDED",
        ),
        (
            Thresholds(tokens_per_day=10, cost_usd_per_day=1),
            Thresholds(),
            (10, 1.0),
            "KEY_DAILY_TOKENS_EXCEEDED",
        ),
        (
            Thresholds(tokens_per_day=10, cost_usd_per_day=1),
            Thresholds(),
            (9, 1.0),
            "KEY_DAILY_COST_EXCEEDED",
        ),
        (
            Thresholds(tokens_per_day=10),
            Thresholds(tokens_per_day=5),
            (5, 0),
            "WORKSPACE_DAILY_TOKENS_EXCEEDED",
        ),
        (Thresholds(), Thresholds(cost_usd_per_day=0.25), (1, 0.25), "WORKSPACE_DAILY_COST_EXCEEDED"),
        (Thresholds(tokens_per_day=10), Thresholds(tokens_per_day=10), (9, 0), None),
    ],
    ids=["key-tokens", "tokens-before-cost", "key-cost", "workspace-tokens", "workspace-cost", "below"],
)
async def test_daily_quotas_in_order_with_greater_or_equal(
    clock: ManualClock, key: Thresholds, workspace: Thresholds, usage: tuple[int, float], code: str | None
) -> None:
    lim = await started(limiter(clock, key=key, workspace=workspace))
    lim.observe(trace(*usage))
    result = await lim.check(ORG, WS, KEY)
    if code is None:
        assert result is None
    else:
        assert result == Denial(429, code)  # no retry_after for daily quotas (limits.md §5)


async def test_daily_quota_refusal_happens_before_the_rate_window_records() -> None:
    clock = ManualClock(datetime(2025, 6, 1, 23, 59, 30, tzinfo=UTC))
    lim = await started(limiter(clock, key=Thresholds(requests_per_minute=1, tokens_per_day=5)))
    lim.observe(trace(5, 0, at=clock.now))
    assert await lim.check(ORG, WS, KEY) == Denial(429, "KEY_DAILY_TOKENS_EXCEEDED")
    # 31 s later it is a new UTC day: the quota starts over, and the refusal took no rate slot
    # (had it been recorded, this request would be refused by the one-per-minute window).
    clock.advance(31)
    assert await lim.check(ORG, WS, KEY) is None
    assert await lim.check(ORG, WS, KEY) == Denial(429, "KEY_RATE_LIMIT_EXCEEDED", 60)


async def test_day_counters_are_per_utc_day_and_per_scope(clock: ManualClock) -> None:
    lim = await started(
        limiter(clock, key=Thresholds(tokens_per_day=10), workspace=Thresholds(tokens_per_day=25))
    )
    lim.observe(trace(10, 0, key="other"))  # another key: the workspace counts it, this key does not
    assert await lim.check(ORG, WS, KEY) is None
    lim.observe(trace(10, 0))
    assert await lim.check(ORG, WS, KEY) == Denial(429, "KEY_DAILY_TOKENS_EXCEEDED")
    lim.observe(trace(5, 0, key=None))  # a trace without a key counts for its workspace only
    assert await lim.check(ORG, WS, "third") == Denial(429, "WORKSPACE_DAILY_TOKENS_EXCEEDED")
    assert await lim.check("other-org", WS, KEY) is None


async def test_an_empty_key_id_measures_the_whole_workspace(clock: ManualClock) -> None:
    # limits.md §3.1: with no key id the per-key query has no key filter.
    lim = await started(limiter(clock, key=Thresholds(tokens_per_day=10)))
    lim.observe(trace(10, 0, key="someone-else"))
    assert await lim.check(ORG, WS, "") == Denial(429, "KEY_DAILY_TOKENS_EXCEEDED")
    assert await lim.check(ORG, WS, KEY) is None


async def test_concurrency_lease_is_held_until_released_once(clock: ManualClock) -> None:
    lim = await started(limiter(clock, key=Thresholds(concurrent=1), workspace=Thresholds(concurrent=2)))
    first = await lim.check(ORG, WS, KEY)
    assert first is not None and not isinstance(first, Denial)
    assert await lim.check(ORG, WS, KEY) == Denial(429, "KEY_CONCURRENCY_LIMIT_EXCEEDED")
    second = await lim.check(ORG, WS, "k2")
    assert second is not None and not isinstance(second, Denial)
    refused = await lim.check(ORG, WS, "k3")
    assert refused == Denial(429, "WORKSPACE_CONCURRENCY_LIMIT_EXCEEDED")
    assert refused.message == "concurrent request limit exceeded for workspace"
    first.release()
    first.release()  # idempotent: the second call must not free someone else's slot
    backend = lim.backend
    assert isinstance(backend, MemoryBackend)
    assert (backend.in_flight(f"{ORG}|{WS}|{KEY}"), backend.in_flight(f"{ORG}|{WS}")) == (0, 1)
    assert not isinstance(await lim.check(ORG, WS, KEY), Denial)


class FakeStore:
    """A `connect()` over canned day totals, or failing like a store that is down."""

    def __init__(self, rows: list[tuple[str, str, str, int, float]] | None, fail: bool = False) -> None:
        self.rows = rows or []
        self.fail = fail
        self.starts: list[datetime] = []

    def connect(self) -> _FakeConn:
        if self.fail:
            raise OperationalError("SELECT", {}, Exception("store down"))
        return _FakeConn(self)


class _FakeConn:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    async def __aenter__(self) -> _FakeConn:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def execute(self, query: object) -> _Rows:
        params = query.compile().params  # type: ignore[attr-defined]
        self.store.starts.append(min(v for v in params.values() if isinstance(v, datetime)))
        return _Rows(self.store.rows)


class _Rows:
    def __init__(self, rows: list[tuple[str, str, str, int, float]]) -> None:
        self._rows = rows

    def all(self) -> list[tuple[str, str, str, int, float]]:
        return self._rows


async def test_seeding_from_the_store_restores_the_days_spend_without_double_counting(
    clock: ManualClock,
) -> None:
    store = FakeStore([(ORG, WS, KEY, 7, 0.5), (ORG, WS, "", 3, 0.0)])
    lim = limiter(clock, key=Thresholds(tokens_per_day=8), workspace=Thresholds(tokens_per_day=11))
    await lim.start(store.connect)  # type: ignore[arg-type]
    await lim.stop()
    assert store.starts == [datetime(2025, 6, 1, tzinfo=UTC)]  # today's UTC midnight
    assert lim.seeded and lim.seeded_day == "2025-06-01"
    assert await lim.check(ORG, WS, KEY) is None  # 7 < 8
    lim.observe(trace(1, 0))  # 8 tokens now: this trace is counted, not yet in the store
    assert await lim.check(ORG, WS, KEY) == Denial(429, "KEY_DAILY_TOKENS_EXCEEDED")
    # The store catches up with that trace; a re-seed takes the larger value instead of adding.
    store.rows = [(ORG, WS, KEY, 8, 0.5), (ORG, WS, "", 3, 0.0)]
    assert await lim.seed(store.connect)  # type: ignore[arg-type]
    backend = lim.backend
    assert isinstance(backend, MemoryBackend)
    assert backend.usage("2025-06-01", f"k:{ORG}|{WS}|{KEY}") == Usage(8, 0.5)
    assert backend.usage("2025-06-01", f"w:{ORG}|{WS}") == Usage(11, 0.5)


async def test_daily_quotas_fail_closed_until_the_store_was_read(clock: ManualClock) -> None:
    store = FakeStore(None, fail=True)
    lim = limiter(clock, key=Thresholds(tokens_per_day=8, requests_per_minute=100))
    await lim.start(store.connect)  # type: ignore[arg-type]
    try:
        refused = await lim.check(ORG, WS, KEY)
        assert refused == Denial(503)
        assert (refused.message, refused.audit_reason) == (
            "gateway usage limit check unavailable",
            "usage_limit_check_unavailable",
        )
        store.fail = False
        assert await lim.seed(store.connect)  # type: ignore[arg-type]
        assert await lim.check(ORG, WS, KEY) is None
    finally:
        await lim.stop()


async def test_without_daily_quotas_nothing_waits_for_the_store(clock: ManualClock) -> None:
    lim = limiter(clock, key=Thresholds(requests_per_minute=1))
    await lim.start(FakeStore(None, fail=True).connect)  # type: ignore[arg-type]
    assert await lim.check(ORG, WS, KEY) is None
    await lim.stop()


def test_from_settings_is_none_with_auth_off_or_no_threshold() -> None:
    limits = {"per_key": {"requests_per_minute": 5}}
    auth = {"enabled": True, "keys": [{"id": "a", "token": "t"}]}
    assert Limiter.from_settings(Settings(limits=limits)) is None
    assert Limiter.from_settings(Settings(auth=auth)) is None
    assert Limiter.from_settings(Settings(auth=auth, limits={"per_key": {"requests_per_minute": 0}})) is None
    built = Limiter.from_settings(Settings(auth=auth, limits=limits))
    assert built is not None and built.backend.name == "memory"


def test_day_clock_rolls_at_utc_midnight() -> None:
    days = DayClock()
    before = datetime(2025, 6, 1, 23, 59, 59, 999000, tzinfo=UTC).timestamp()
    assert days.day(before) == "2025-06-01"
    assert days.next_boundary(before) == datetime(2025, 6, 2, tzinfo=UTC).timestamp()
    assert days.day(before + 0.001) == "2025-06-02"
    assert days.day(before) == "2025-06-01"  # going back (a late trace) recomputes too


def test_subject_scopes_hold_ids_only() -> None:
    s = Subject.of("o", "w", "k")
    assert (s.key, s.workspace, s.key_usage, s.workspace_usage) == ("o|w|k", "o|w", "k:o|w|k", "w:o|w")
    assert Subject.of("o", "w", "").key_usage == "w:o|w"


async def test_seed_totals_mapping_accepts_any_mapping(clock: ManualClock) -> None:
    backend = MemoryBackend(LimitRules(Thresholds(tokens_per_day=1)), clock.wall)
    totals: Mapping[str, Usage] = {"k:o|w|k": Usage(3, 0.0)}
    await backend.seed("2025-06-01", totals)
    await backend.seed("2025-06-01", {"k:o|w|k": Usage(2, 1.0)})
    assert backend.usage("2025-06-01", "k:o|w|k") == Usage(3, 1.0)
