"""Driver errors translated at the store boundary: the five write-failure classes and `StoreUnavailable`.

Classes follow traces-and-lineage.md §4 (first match wins: timeout, connection, contention,
constraint, unknown). Types are checked along the exception chain before message texts, because
asyncpg and aiosqlite surface the same outage under several wrappers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Literal

from sqlalchemy import exc as sa_exc

ErrorClass = Literal["timeout", "connection", "contention", "constraint", "unknown"]
ERROR_CLASSES: tuple[ErrorClass, ...] = ("connection", "timeout", "contention", "constraint", "unknown")
# Failures that say "the store is not answering now", not "this record is bad": these are spilled.
TRANSIENT_CLASSES: frozenset[str] = frozenset({"timeout", "connection", "contention"})

_TIMEOUT_TEXT = ("timeout", "timed out", "deadline exceeded")
_CONNECTION_TEXT = (
    "connection refused",
    "broken pipe",
    "no such host",
    "connection reset",
    "connection was closed",
    "connection is closed",
    "connection aborted",
    "connection does not exist",
    "cannot connect",
    "connect call failed",
    "the database system is shutting down",
    "the database system is starting up",
    "terminating connection",
    "server closed the connection",
)
_CONTENTION_TEXT = ("sqlite_busy", "database is locked", "database is busy", "database table is locked")
_CONSTRAINT_TEXT = (
    "violates foreign key constraint",
    "violates unique constraint",
    "violates check constraint",
    "violates not-null constraint",
    "duplicate key",
    "unique constraint failed",
    "not null constraint failed",
    "foreign key constraint failed",
    "check constraint failed",
)


class StoreUnavailable(Exception):
    """The trace store could not be opened or did not answer (rendered as 503 by the API)."""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend([current.__cause__, current.__context__, getattr(current, "orig", None)])


def _by_type(chain: list[BaseException]) -> ErrorClass | None:
    if any(isinstance(e, TimeoutError | asyncio.TimeoutError) for e in chain):
        return "timeout"
    if any(isinstance(e, sa_exc.DBAPIError) and e.connection_invalidated for e in chain):
        return "connection"
    if any(isinstance(e, ConnectionError | OSError) and not isinstance(e, TimeoutError) for e in chain):
        return "connection"
    if any(type(e).__name__ in ("ConnectionDoesNotExistError", "PostgresConnectionError") for e in chain):
        return "connection"
    return None


def classify_error(exc: BaseException) -> ErrorClass:
    """The write-failure class of `exc` (traces-and-lineage.md §4 "Error class")."""
    chain = list(_chain(exc))
    by_type = _by_type(chain)
    if by_type is not None:
        return by_type
    message = " ".join(str(e) for e in chain).lower()
    for error_class, needles in (
        ("timeout", _TIMEOUT_TEXT),
        ("connection", _CONNECTION_TEXT),
        ("contention", _CONTENTION_TEXT),
        ("constraint", _CONSTRAINT_TEXT),
    ):
        if any(needle in message for needle in needles):
            return error_class  # type: ignore[return-value]
    return "unknown"


def error_kind(exc: BaseException) -> str:
    """A short, secret-free name for logs: the innermost driver exception type."""
    chain = list(_chain(exc))
    inner = getattr(exc, "orig", None)
    return type(inner if isinstance(inner, BaseException) else chain[-1] if chain else exc).__name__
