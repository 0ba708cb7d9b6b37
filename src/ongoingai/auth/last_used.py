"""`LastUsedRecorder`: `last_used_at` without a write per request (issue 4).

An authorised proxy request only notes the key id and the time in a dict; a background flush writes
the newest time per key in one batched statement (`SqlKeyStore.touch_last_used`). A failed flush is
logged (`failed to update gateway key last_used_at`) and its values are kept for the next one. The key
list reads `seen()` too, so a fresh use shows before it is flushed (and config keys, which have no row,
show theirs at all).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Protocol

from ongoingai.store.writes import DRIVER_ERRORS

logger = logging.getLogger(__name__)


class LastUsedWriter(Protocol):
    async def touch_last_used(self, used: Mapping[str, datetime]) -> None:
        """Set `last_used_at` for each key id (never moving it backwards)."""


class LastUsedRecorder:
    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self._pending: dict[str, float] = {}
        self._latest: dict[str, float] = {}

    def touch(self, key_id: str) -> None:
        now = self._wall()
        self._pending[key_id] = now
        self._latest[key_id] = now

    def seen(self, key_id: str) -> datetime | None:
        at = self._latest.get(key_id)
        return datetime.fromtimestamp(at, UTC) if at is not None else None

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def flush(self, writer: LastUsedWriter | None) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        if writer is None:  # config keys only: nothing to persist, `seen()` keeps them
            return
        try:
            await writer.touch_last_used({k: datetime.fromtimestamp(v, UTC) for k, v in batch.items()})
        except DRIVER_ERRORS as exc:
            for key_id, at in batch.items():
                self._pending[key_id] = max(at, self._pending.get(key_id, at))
            logger.warning(
                "failed to update gateway key last_used_at",
                extra={"key_count": len(batch), "error_kind": type(exc).__name__},
            )
