"""The in-memory key cache: verification, expiry, rotation grace, staleness fail-closed (injected clocks)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy.exc import OperationalError

from ongoingai.auth.cache import EXPIRED, INVALID, KeyCache
from ongoingai.auth.keys import GatewayKey, hash_token
from ongoingai.query import TenantScope
from tests.fakes.clocks import ManualClock


class ListSource:
    def __init__(self, keys: list[GatewayKey]) -> None:
        self.keys = keys
        self.fail = False
        self.loads = 0

    async def active_keys(self) -> list[GatewayKey]:
        self.loads += 1
        if self.fail:
            raise OperationalError("SELECT", {}, Exception("connection refused"))
        return list(self.keys)


def key(key_id: str, token: str, **fields: object) -> GatewayKey:
    return GatewayKey(id=key_id, token_hash=hash_token(token), org_id="acme", workspace_id="ws", **fields)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def cache_for(source: ListSource, clock: ManualClock, staleness: float | None = 60.0) -> KeyCache:
    return KeyCache(source, max_staleness_s=staleness, monotonic=clock.monotonic, wall=clock.wall)


async def test_a_known_token_resolves_to_its_identity(clock: ManualClock) -> None:
    cache = cache_for(ListSource([key("k1", "tok-1")]), clock)
    assert await cache.refresh() == 1

    entry, reason = cache.verify(hash_token("tok-1"))

    assert entry is not None
    identity = entry.identity
    assert (identity.key_id, identity.org_id, identity.workspace_id) == ("k1", "acme", "ws")
    assert entry.tenant == TenantScope("acme", "ws")
    assert reason == ""
    assert cache.verify(hash_token("other")) == (None, INVALID)


async def test_an_expired_key_is_reported_as_expired(clock: ManualClock) -> None:
    cache = cache_for(ListSource([key("k1", "tok-1", expires_at=clock.now + timedelta(seconds=10))]), clock)
    await cache.refresh()

    assert cache.verify(hash_token("tok-1"))[0] is not None
    clock.advance(10)
    assert cache.verify(hash_token("tok-1")) == (None, EXPIRED)


async def test_a_rotated_out_token_works_until_its_grace_ends(clock: ManualClock) -> None:
    rotated = key(
        "k1",
        "new",
        previous_token_hash=hash_token("old"),
        previous_token_expires_at=clock.now + timedelta(seconds=30),
    )
    cache = cache_for(ListSource([rotated]), clock)
    await cache.refresh()

    assert cache.verify(hash_token("old"))[0] is not None
    assert cache.verify(hash_token("new"))[0] is not None
    clock.advance(30)
    assert cache.verify(hash_token("old")) == (None, INVALID)
    assert cache.verify(hash_token("new"))[0] is not None


async def test_a_grace_already_over_at_refresh_is_left_out(clock: ManualClock) -> None:
    rotated = key(
        "k1", "new", previous_token_hash=hash_token("old"), previous_token_expires_at=clock.now - timedelta(1)
    )
    cache = cache_for(ListSource([rotated]), clock)

    assert await cache.refresh() == 1
    assert cache.verify(hash_token("old")) == (None, INVALID)


async def test_a_previous_token_of_an_expired_key_is_expired_too(clock: ManualClock) -> None:
    rotated = key(
        "k1",
        "new",
        expires_at=clock.now + timedelta(seconds=5),
        previous_token_hash=hash_token("old"),
        previous_token_expires_at=clock.now + timedelta(seconds=60),
    )
    cache = cache_for(ListSource([rotated]), clock)
    await cache.refresh()
    clock.advance(5)

    assert cache.verify(hash_token("old")) == (None, EXPIRED)


async def test_revoked_keys_are_left_out(clock: ManualClock) -> None:
    cache = cache_for(ListSource([key("k1", "tok", revoked_at=clock.now)]), clock)

    assert await cache.refresh() == 0
    assert cache.verify(hash_token("tok")) == (None, INVALID)


async def test_two_keys_sharing_a_token_hash_are_both_rejected(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    cache = cache_for(
        ListSource([key("a", "same"), key("b", "same"), key("c", "same"), key("d", "x")]), clock
    )

    assert await cache.refresh() == 1
    assert cache.verify(hash_token("same")) == (None, INVALID)
    assert "gateway keys share a token hash" in caplog.text
    assert hash_token("same") not in caplog.text


async def test_the_cache_is_not_fresh_before_its_first_load(clock: ManualClock) -> None:
    assert not cache_for(ListSource([]), clock).fresh()
    assert not cache_for(ListSource([]), clock, staleness=None).fresh()


async def test_it_fails_closed_once_older_than_max_staleness_and_recovers_on_refresh(
    clock: ManualClock,
) -> None:
    source = ListSource([key("k1", "tok")])
    cache = cache_for(source, clock, staleness=60)
    await cache.refresh()
    source.fail = True

    clock.advance(30)
    with pytest.raises(OperationalError):
        await cache.refresh()
    assert cache.fresh()  # the previous map and refresh time are kept
    assert cache.verify(hash_token("tok"))[0] is not None
    clock.advance(30)
    assert cache.fresh()  # exactly max_staleness: still fresh
    clock.advance(0.001)
    assert not cache.fresh()

    source.fail = False
    await cache.refresh()
    assert cache.fresh()


async def test_a_refresh_replaces_the_whole_map(clock: ManualClock) -> None:
    source = ListSource([key("k1", "tok-1")])
    cache = cache_for(source, clock)
    await cache.refresh()
    source.keys = [key("k2", "tok-2")]

    await cache.refresh()

    assert cache.verify(hash_token("tok-1")) == (None, INVALID)
    assert cache.verify(hash_token("tok-2"))[0] is not None
    assert cache.key_count == 1


async def test_a_static_source_never_goes_stale(clock: ManualClock) -> None:
    cache = cache_for(ListSource([key("k1", "tok")]), clock, staleness=None)
    await cache.refresh()

    clock.advance(10**9)

    assert cache.fresh()


async def test_logs_never_carry_a_token_or_hash(clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    cache = cache_for(ListSource([key("a", "secret-token"), key("b", "secret-token")]), clock)
    await cache.refresh()

    assert "secret-token" not in caplog.text
