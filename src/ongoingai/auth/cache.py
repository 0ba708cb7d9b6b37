"""`KeyCache`: token hash → identity, in memory, so verifying a key never touches the database.

The whole map is rebuilt from the key source on each refresh (auth-and-tenancy.md §3). A source that
can change (the `gateway_keys` table) has a staleness bound: once the last successful refresh is older
than `max_staleness_s`, `fresh()` is False and the auth layer answers every protected request with
`503 gateway key verification unavailable` (fail closed) until a refresh succeeds again. A failed
refresh is logged and the previous map kept. Two keys that share a token hash are both left out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ongoingai.auth.identity import Identity
from ongoingai.auth.keys import GatewayKey
from ongoingai.auth.stores.base import KeySource
from ongoingai.query import TenantScope

logger = logging.getLogger(__name__)

INVALID = "invalid_gateway_key"
EXPIRED = "expired_gateway_key"


@dataclass(frozen=True, slots=True)
class CacheEntry:
    identity: Identity
    tenant: TenantScope  # built once per refresh, not per request
    expires_at: float | None = None  # the key's expiry (epoch s): past it → `expired_gateway_key`
    not_after: float | None = None  # a rotated-out token's grace end (epoch s): past it → unknown


def build_entries(keys: Iterable[GatewayKey], now: float) -> dict[str, CacheEntry]:
    """The lookup map of `keys` (revoked ones and finished grace periods left out) at wall time `now`."""
    entries: dict[str, CacheEntry] = {}
    clashes: set[str] = set()

    def add(token_hash: str, entry: CacheEntry) -> None:
        if token_hash in entries or token_hash in clashes:
            clashes.add(token_hash)
            entries.pop(token_hash, None)
            return
        entries[token_hash] = entry

    for key in keys:
        if key.revoked_at is not None:
            continue
        identity = key.identity()
        tenant = TenantScope(identity.org_id, identity.workspace_id)
        expires_at = key.expires_at.timestamp() if key.expires_at is not None else None
        add(key.token_hash, CacheEntry(identity, tenant, expires_at))
        previous_end = key.previous_token_expires_at
        if key.previous_token_hash and previous_end is not None and previous_end.timestamp() > now:
            add(key.previous_token_hash, CacheEntry(identity, tenant, expires_at, previous_end.timestamp()))
    if clashes:
        # Ambiguous identity: fail closed for those tokens rather than guess a tenant.
        logger.error(
            "gateway keys share a token hash; those tokens are rejected", extra={"count": len(clashes)}
        )
    return entries


class KeyCache:
    """Verifies token hashes from memory. `max_staleness_s=None` means a static source (never stale)."""

    def __init__(
        self,
        source: KeySource,
        *,
        max_staleness_s: float | None,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._source = source
        self._max_staleness = max_staleness_s
        self._monotonic = monotonic
        self._wall = wall
        self._entries: dict[str, CacheEntry] = {}
        self._refreshed_at: float | None = None

    @property
    def key_count(self) -> int:
        return len(self._entries)

    async def refresh(self) -> int:
        """Reload every key from the source and swap the map in one assignment; returns its size.

        Raises:
            whatever the source raises; the previous map and refresh time are then kept.
        """
        keys = await self._source.active_keys()
        self._entries = build_entries(keys, self._wall())
        self._refreshed_at = self._monotonic()
        return len(self._entries)

    def fresh(self) -> bool:
        if self._refreshed_at is None:
            return False
        if self._max_staleness is None:
            return True
        return self._monotonic() - self._refreshed_at <= self._max_staleness

    def verify(self, token_hash: str) -> tuple[CacheEntry | None, str]:
        """(entry, "") for a usable token, else (None, `invalid_gateway_key` / `expired_gateway_key`)."""
        entry = self._entries.get(token_hash)
        if entry is None:
            return None, INVALID
        if entry.not_after is not None or entry.expires_at is not None:
            now = self._wall()
            if entry.not_after is not None and now >= entry.not_after:
                return None, INVALID
            if entry.expires_at is not None and now >= entry.expires_at:
                return None, EXPIRED
        return entry, ""
