"""Tenancy, gateway-key and audit tables (auth-and-tenancy.md §9, DEVIATIONS.md "Gateway keys" and
"Audit records"), on the same `metadata` as `traces` so one Alembic history and one schema check cover all.

The schema is the same on both backends. Postgres also enforces the tenant foreign key and row-level
security (migration 0003); SQLite leaves foreign keys off, so isolation there is the queries' filters.
"""

from __future__ import annotations

import sqlalchemy as sa

from ongoingai.store.columns import JsonDocument, UtcDateTime
from ongoingai.store.tables import metadata

organizations = sa.Table(
    "organizations",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", UtcDateTime(), nullable=False, server_default=sa.func.now()),
)

workspaces = sa.Table(
    "workspaces",
    metadata,
    sa.Column("org_id", sa.Text, primary_key=True),
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", UtcDateTime(), nullable=False, server_default=sa.func.now()),
    sa.ForeignKeyConstraint(
        ["org_id"],
        ["organizations.id"],
        name="fk_workspaces_organization",
        onupdate="CASCADE",
        ondelete="RESTRICT",
    ),
    sa.Index("idx_workspaces_id", "id"),
)

gateway_keys = sa.Table(
    "gateway_keys",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("token_hash", sa.Text, nullable=False),
    sa.Column("org_id", sa.Text, nullable=False, server_default="default"),
    sa.Column("workspace_id", sa.Text, nullable=False, server_default="default"),
    sa.Column("name", sa.Text, nullable=False, server_default=""),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("created_by", sa.Text, nullable=False, server_default=""),
    sa.Column("role", sa.Text, nullable=False, server_default="developer"),
    sa.Column("permissions", JsonDocument()),
    sa.Column("created_at", UtcDateTime(), nullable=False, server_default=sa.func.now()),
    sa.Column("last_used_at", UtcDateTime()),
    sa.Column("expires_at", UtcDateTime()),
    sa.Column("revoked_at", UtcDateTime()),
    sa.Column("previous_token_hash", sa.Text),
    sa.Column("previous_token_expires_at", UtcDateTime()),
    sa.ForeignKeyConstraint(
        ["org_id", "workspace_id"],
        ["workspaces.org_id", "workspaces.id"],
        name="fk_gateway_keys_workspace_tenant",
        onupdate="CASCADE",
        ondelete="RESTRICT",
    ),
    sa.Index("idx_gateway_keys_token_hash", "token_hash", unique=True),
    sa.Index("idx_gateway_keys_previous_token_hash", "previous_token_hash"),
    sa.Index(
        "idx_gateway_keys_active",
        "created_at",
        "id",
        postgresql_where=sa.text("revoked_at IS NULL"),
        sqlite_where=sa.text("revoked_at IS NULL"),
    ),
    sa.Index(
        "idx_gateway_keys_org_workspace_active",
        "org_id",
        "workspace_id",
        "created_at",
        "id",
        postgresql_where=sa.text("revoked_at IS NULL"),
        sqlite_where=sa.text("revoked_at IS NULL"),
    ),
)

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("org_id", sa.Text, nullable=False, server_default=""),
    sa.Column("workspace_id", sa.Text, nullable=False, server_default=""),
    sa.Column("actor_key_id", sa.Text, nullable=False, server_default=""),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
    sa.Column("trace_id", sa.Text, nullable=False, server_default=""),
    sa.Column("correlation_id", sa.Text, nullable=False, server_default=""),
    sa.Column("details", JsonDocument()),
)

_AUDIT_NEWEST_FIRST = (sa.desc(audit_events.c.created_at), sa.desc(audit_events.c.id))
AUDIT_INDEXES = (
    sa.Index(
        "idx_audit_events_org_workspace_created_at_id",
        audit_events.c.org_id,
        audit_events.c.workspace_id,
        *_AUDIT_NEWEST_FIRST,
    ),
    sa.Index("idx_audit_events_created_at_id", *_AUDIT_NEWEST_FIRST),
    sa.Index("idx_audit_events_trace_id", audit_events.c.trace_id),
    sa.Index("idx_audit_events_actor_key_id", audit_events.c.actor_key_id),
)
