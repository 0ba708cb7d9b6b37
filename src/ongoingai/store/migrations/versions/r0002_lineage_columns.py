"""Lineage thread/run as real columns, back-filled from metadata, and the DEVIATIONS.md indexes.

Revision ID: 0002_lineage_columns
Revises: 0001_create_traces
Create Date: 2024-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_lineage_columns"
down_revision = "0001_create_traces"
branch_labels = None
depends_on = None

_BACKFILL = {
    "sqlite": (
        "UPDATE traces SET"
        " lineage_thread_id = NULLIF(CAST(json_extract(metadata, '$.lineage_thread_id') AS TEXT), ''),"
        " lineage_run_id = NULLIF(CAST(json_extract(metadata, '$.lineage_run_id') AS TEXT), '')"
        " WHERE metadata IS NOT NULL AND json_valid(metadata)"
    ),
    "postgresql": (
        "UPDATE traces SET"
        " lineage_thread_id = NULLIF(metadata->>'lineage_thread_id', ''),"
        " lineage_run_id = NULLIF(metadata->>'lineage_run_id', '')"
        " WHERE metadata IS NOT NULL AND jsonb_typeof(metadata) = 'object'"
    ),
}


def upgrade() -> None:
    op.add_column("traces", sa.Column("lineage_thread_id", sa.Text))
    op.add_column("traces", sa.Column("lineage_run_id", sa.Text))
    op.execute(_BACKFILL[op.get_bind().dialect.name])
    newest_first = [sa.text("created_at DESC"), sa.text("id DESC")]
    for name in ("trace_group_id", "lineage_thread_id", "lineage_run_id"):
        op.create_index(f"idx_traces_{name}_created_at_id", "traces", [name, *newest_first])
    op.create_index("idx_traces_total_tokens", "traces", ["total_tokens"])


def downgrade() -> None:
    op.drop_index("idx_traces_total_tokens", "traces")
    for name in ("trace_group_id", "lineage_thread_id", "lineage_run_id"):
        op.drop_index(f"idx_traces_{name}_created_at_id", "traces")
    with op.batch_alter_table("traces") as batch:
        batch.drop_column("lineage_run_id")
        batch.drop_column("lineage_thread_id")
