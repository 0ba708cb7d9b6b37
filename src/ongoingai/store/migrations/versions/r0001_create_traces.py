"""Create the traces table and the spec's indexes (traces-and-lineage.md §3).

Revision ID: 0001_create_traces
Revises:
Create Date: 2024-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_create_traces"
down_revision = None
branch_labels = None
depends_on = None

JSON_DOC = sa.Text().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "traces",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("trace_group_id", sa.Text),
        sa.Column("org_id", sa.Text, nullable=False, server_default="default"),
        sa.Column("workspace_id", sa.Text, nullable=False, server_default="default"),
        sa.Column("timestamp", TIMESTAMP, nullable=False),
        sa.Column("provider", sa.Text, nullable=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("request_method", sa.Text, nullable=False),
        sa.Column("request_path", sa.Text, nullable=False),
        sa.Column("request_headers", JSON_DOC),
        sa.Column("response_headers", JSON_DOC),
        sa.Column("request_body", sa.Text),
        sa.Column("response_body", sa.Text),
        sa.Column("response_status", sa.Integer),
        sa.Column("input_tokens", sa.Integer),
        sa.Column("output_tokens", sa.Integer),
        sa.Column("total_tokens", sa.Integer),
        sa.Column("latency_ms", sa.BigInteger),
        sa.Column("time_to_first_token_ms", sa.BigInteger),
        sa.Column("time_to_first_token_us", sa.BigInteger),
        sa.Column("api_key_hash", sa.Text),
        sa.Column("gateway_key_id", sa.Text),
        sa.Column("estimated_cost_usd", sa.Float),
        sa.Column("metadata", JSON_DOC),
        sa.Column("created_at", TIMESTAMP, nullable=False, server_default=sa.func.now()),
    )
    newest_first = [sa.text("created_at DESC"), sa.text("id DESC")]
    for name in ("timestamp", "provider", "model", "api_key_hash", "gateway_key_id"):
        op.create_index(f"idx_traces_{name}", "traces", [name])
    op.create_index("idx_traces_created_at_id", "traces", newest_first)
    op.create_index(
        "idx_traces_org_workspace_created_at_id", "traces", ["org_id", "workspace_id", *newest_first]
    )
    op.create_index("idx_traces_org_workspace_timestamp", "traces", ["org_id", "workspace_id", "timestamp"])
    op.create_index(
        "idx_traces_org_workspace_gateway_key_timestamp",
        "traces",
        ["org_id", "workspace_id", "gateway_key_id", "timestamp"],
    )
    for name in ("provider", "model", "api_key_hash", "response_status"):
        op.create_index(f"idx_traces_{name}_created_at_id", "traces", [name, *newest_first])
        op.create_index(f"idx_traces_{name}_timestamp", "traces", [name, "timestamp"])


def downgrade() -> None:
    op.drop_table("traces")
