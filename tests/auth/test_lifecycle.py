"""`KeyLifecycle` failure paths with a store that fails: each operation's 500 message and audit reason."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from ongoingai.auth.cache import KeyCache
from ongoingai.auth.identity import Identity
from ongoingai.auth.keys import GatewayKey
from ongoingai.auth.last_used import LastUsedRecorder
from ongoingai.auth.lifecycle import (
    KeyLifecycle,
    KeyLifecycleError,
    KeyRequest,
    KeyStoreFailedError,
)
from ongoingai.auth.stores import SqlKeyStore
from tests.fakes.clocks import ManualClock

CALLER = Identity("admin", "acme", "ws", "ws", "admin")


def _down(*args: Any, **kw: Any) -> Any:
    raise OperationalError("SQL", {}, Exception("connection refused"))


class DownKeyStore(SqlKeyStore):
    """Every statement fails as an unreachable database would."""

    def __init__(self) -> None:
        pass

    list_keys = create = revoke = rotate = active_keys = touch_last_used = staticmethod(_down)  # type: ignore[assignment]


class EmptySource:
    def __init__(self) -> None:
        self.fail = False

    async def active_keys(self) -> list[GatewayKey]:
        if self.fail:
            _down()
        return []


def lifecycle(source: EmptySource | None = None) -> KeyLifecycle:
    clock = ManualClock()
    cache = KeyCache(source or EmptySource(), max_staleness_s=60, monotonic=clock.monotonic, wall=clock.wall)
    keys = KeyLifecycle(
        auth_enabled=True,
        database=True,
        cache=cache,
        last_used=LastUsedRecorder(clock.wall),
        clock=clock.datetime,
    )
    keys.sql = DownKeyStore()
    return keys


@pytest.mark.parametrize(
    ("operation", "message", "reason"),
    [
        ("list", "failed to list gateway keys", "list_failed"),
        ("create", "failed to create gateway key", "create_failed"),
        ("revoke", "failed to revoke gateway key", "revoke_failed"),
        ("rotate", "failed to rotate gateway key", "rotate_failed"),
    ],
)
async def test_a_store_failure_is_a_500_with_the_operations_message(
    operation: str, message: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    keys = lifecycle()
    calls = {
        "list": lambda: keys.list_keys(None),
        "create": lambda: keys.create(CALLER, KeyRequest()),
        "revoke": lambda: keys.revoke(CALLER, "k1"),
        "rotate": lambda: keys.rotate(CALLER, "k1"),
    }

    with pytest.raises(KeyStoreFailedError) as caught:
        await calls[operation]()

    assert (caught.value.status, caught.value.message, caught.value.reason) == (500, message, reason)
    assert "gateway key store operation failed" in caplog.text


async def test_a_failed_cache_refresh_after_a_change_is_only_logged(caplog: pytest.LogCaptureFixture) -> None:
    source = EmptySource()
    keys = lifecycle(source)

    class OkStore(SqlKeyStore):
        def __init__(self) -> None:
            pass

        async def create(self, key: GatewayKey) -> None:
            return None

    keys.sql = OkStore()
    source.fail = True

    key, token = await keys.create(CALLER, KeyRequest(id="k1"))

    assert key.id == "k1" and token.startswith("ogk_")
    assert "failed to refresh gateway key cache" in caplog.text


async def test_mutations_without_a_caller_are_refused_as_auth_disabled() -> None:
    with pytest.raises(KeyLifecycleError) as caught:
        await lifecycle().revoke(None, "k1")

    assert (caught.value.status, caught.value.message) == (403, "enable auth to manage gateway keys")


def test_the_last_used_overlay_keeps_the_newer_time() -> None:
    from ongoingai.auth.lifecycle import _later

    early, late = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC)
    assert _later(None, None) is None
    assert _later(early, None) == early
    assert _later(None, late) == late
    assert _later(late, early) == late
