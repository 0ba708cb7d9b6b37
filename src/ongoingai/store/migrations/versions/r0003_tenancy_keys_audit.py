"""Tenancy, gateway keys and audit records; Postgres also gets the tenant FK and row-level security.

auth-and-tenancy.md §9 and DEVIATIONS.md ("Gateway keys", "Audit records", "Tests against Postgres").
RLS is enabled and forced on every tenant table; a policy compares the row's org/workspace with the
session settings `ongoingai.org_id` / `ongoingai.workspace_id` and lets everything through when a setting
is unset or empty, so unscoped work (migrations, the key-cache refresh, the trace writer) is unaffected
while a scoped transaction that sets them cannot see or write another tenant's rows.

Revision ID: 0003_tenancy_keys_audit
Revises: 0002_lineage_columns
Create Date: 2025-06-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from ongoingai.store.migrations.seeds import DEFAULT_TENANT_ROWS

revision = "0003_tenancy_keys_audit"
down_revision = "0002_lineage_columns"
branch_labels = None
depends_on = None

JSON_DOC = sa.Text().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)
ACTIVE = sa.text("revoked_at IS NULL")
POLICY = "ongoingai_tenant_isolation"
# table → (org column, workspace column or None)
TENANT_TABLES = {
    "organizations": ("id", None),
    "workspaces": ("org_id", "id"),
    "gateway_keys": ("org_id", "workspace_id"),
    "traces": ("org_id", "workspace_id"),
    "audit_events": ("org_id", "workspace_id"),
}


def _matches(setting: str, column: str) -> str:
    current = f"current_setting('{setting}', true)"
    return f"(COALESCE({current}, '') = '' OR {column} = {current})"


def _policy_condition(org_column: str, workspace_column: str | None) -> str:
    condition = _matches("ongoingai.org_id", org_column)
    if workspace_column is not None:
        condition += " AND " + _matches("ongoingai.workspace_id", workspace_column)
    return condition


def _create_tenancy_tables() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", TIMESTAMP, nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "workspaces",
        sa.Column("org_id", sa.Text, primary_key=True),
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", TIMESTAMP, nullable=False, server_default=sa.func.now()),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name="fk_workspaces_organization",
            onupdate="CASCADE",
            ondelete="RESTRICT",
        ),
    )
    op.create_index("idx_workspaces_id", "workspaces", ["id"])
    for statement in DEFAULT_TENANT_ROWS:
        op.execute(statement)


def _create_gateway_keys() -> None:
    op.create_table(
        "gateway_keys",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("token_hash", sa.Text, nullable=False),
        sa.Column("org_id", sa.Text, nullable=False, server_default="default"),
        sa.Column("workspace_id", sa.Text, nullable=False, server_default="default"),
        sa.Column("name", sa.Text, nullable=False, server_default=""),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("created_by", sa.Text, nullable=False, server_default=""),
        sa.Column("role", sa.Text, nullable=False, server_default="developer"),
        sa.Column("permissions", JSON_DOC),
        sa.Column("created_at", TIMESTAMP, nullable=False, server_default=sa.func.now()),
        sa.Column("last_used_at", TIMESTAMP),
        sa.Column("expires_at", TIMESTAMP),
        sa.Column("revoked_at", TIMESTAMP),
        sa.Column("previous_token_hash", sa.Text),
        sa.Column("previous_token_expires_at", TIMESTAMP),
        sa.ForeignKeyConstraint(
            ["org_id", "workspace_id"],
            ["workspaces.org_id", "workspaces.id"],
            name="fk_gateway_keys_workspace_tenant",
            onupdate="CASCADE",
            ondelete="RESTRICT",
        ),
    )
    op.create_index("idx_gateway_keys_token_hash", "gateway_keys", ["token_hash"], unique=True)
    op.create_index("idx_gateway_keys_previous_token_hash", "gateway_keys", ["previous_token_hash"])
    op.create_index(
        "idx_gateway_keys_active",
        "gateway_keys",
        ["created_at", "id"],
        postgresql_where=ACTIVE,
        sqlite_where=ACTIVE,
    )
    op.create_index(
        "idx_gateway_keys_org_workspace_active",
        "gateway_keys",
        ["org_id", "workspace_id", "created_at", "id"],
        postgresql_where=ACTIVE,
        sqlite_where=ACTIVE,
    )


def _create_audit_events() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("org_id", sa.Text, nullable=False, server_default=""),
        sa.Column("workspace_id", sa.Text, nullable=False, server_default=""),
        sa.Column("actor_key_id", sa.Text, nullable=False, server_default=""),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("trace_id", sa.Text, nullable=False, server_default=""),
        sa.Column("correlation_id", sa.Text, nullable=False, server_default=""),
        sa.Column("details", JSON_DOC),
    )
    newest_first = [sa.text("created_at DESC"), sa.text("id DESC")]
    op.create_index(
        "idx_audit_events_org_workspace_created_at_id",
        "audit_events",
        ["org_id", "workspace_id", *newest_first],
    )
    op.create_index("idx_audit_events_created_at_id", "audit_events", newest_first)
    op.create_index("idx_audit_events_trace_id", "audit_events", ["trace_id"])
    op.create_index("idx_audit_events_actor_key_id", "audit_events", ["actor_key_id"])


def _enable_row_level_security() -> None:
    for table, (org_column, workspace_column) in TENANT_TABLES.items():
        condition = _policy_condition(org_column, workspace_column)
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY {POLICY} ON {table} USING ({condition}) WITH CHECK ({condition})")


def upgrade() -> None:
    _create_tenancy_tables()
    _create_gateway_keys()
    _create_audit_events()
    if op.get_bind().dialect.name == "postgresql":
        _enable_row_level_security()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP POLICY IF EXISTS {POLICY} ON traces")
        op.execute("ALTER TABLE traces NO FORCE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE traces DISABLE ROW LEVEL SECURITY")
    op.drop_table("audit_events")
    op.drop_table("gateway_keys")
    op.drop_table("workspaces")
    op.drop_table("organizations")
