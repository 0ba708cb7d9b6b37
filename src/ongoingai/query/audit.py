"""Audit-record reads for `GET /api/audit` (DEVIATIONS.md "Audit records"): filters, newest first, cursor.

Scoped reads add `org_id = ? AND workspace_id = ?`; the API runs them on its tenant-confined
connection (`api.context.read_connection`), so on Postgres row-level security backs up the filter.
The cursor has the trace list's form (`<created_at>|<id>`, unpadded base64url).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ongoingai.query.cursor import Cursor, encode_cursor
from ongoingai.query.traces import TenantScope
from ongoingai.store.auth_tables import audit_events
from ongoingai.store.columns import UtcDateTime

DEFAULT_AUDIT_LIMIT = 50
MAX_AUDIT_LIMIT = 200


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Validated `/api/audit` filters; empty strings and None mean "no filter"."""

    limit: int = DEFAULT_AUDIT_LIMIT
    since: datetime | None = None
    until: datetime | None = None
    action: str = ""
    outcome: str = ""
    key_id: str = ""
    trace_id: str = ""
    cursor: Cursor | None = None
    scope: TenantScope | None = None


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: str
    created_at: datetime
    org_id: str
    workspace_id: str
    actor_key_id: str
    action: str
    outcome: str
    reason: str
    trace_id: str
    correlation_id: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditPage:
    items: list[AuditRow]
    next_cursor: str | None = None


def _conditions(f: AuditFilter) -> list[sa.ColumnElement[bool]]:
    c = audit_events.c
    equals = {c.action: f.action, c.outcome: f.outcome, c.actor_key_id: f.key_id, c.trace_id: f.trace_id}
    out: list[sa.ColumnElement[bool]] = [column == value for column, value in equals.items() if value]
    if f.since is not None:
        out.append(c.created_at >= f.since)
    if f.until is not None:
        out.append(c.created_at <= f.until)
    if f.scope is not None:
        out.extend([c.org_id == f.scope.org_id, c.workspace_id == f.scope.workspace_id])
    if f.cursor is not None:
        after = sa.tuple_(sa.literal(f.cursor.created_at, UtcDateTime()), sa.literal(f.cursor.id, sa.Text()))
        out.append(sa.tuple_(c.created_at, c.id) < after)
    return out


def _row(row: Any) -> AuditRow:
    details = row["details"]
    return AuditRow(
        id=row["id"],
        created_at=row["created_at"],
        org_id=row["org_id"],
        workspace_id=row["workspace_id"],
        actor_key_id=row["actor_key_id"],
        action=row["action"],
        outcome=row["outcome"],
        reason=row["reason"],
        trace_id=row["trace_id"],
        correlation_id=row["correlation_id"],
        details=details if isinstance(details, dict) else {},
    )


async def list_audit_events(conn: AsyncConnection, f: AuditFilter) -> AuditPage:
    """One page of audit records matching `f`, ordered `created_at` DESC, `id` DESC.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the store failed (the API answers `500 failed to query audit events`).
    """
    c = audit_events.c
    query = (
        sa.select(audit_events)
        .where(*_conditions(f))
        .order_by(c.created_at.desc(), c.id.desc())
        .limit(f.limit + 1)
    )
    rows = (await conn.execute(query)).mappings().all()
    items = [_row(r) for r in rows[: f.limit]]
    if len(rows) <= f.limit or not items:
        return AuditPage(items)
    last = items[-1]
    return AuditPage(items, encode_cursor(Cursor(last.created_at, last.id)))
