"""The lineage indexes keep only the traces that carry that lineage value (partial indexes).

Most traces carry no `trace_group_id`, lineage thread or run (a client sends the `X-OngoingAI-*` lineage
headers only when it wants a chain), yet each NULL was still an entry in three indexes, three of the ~23
index inserts a trace costs the writer. Every read through these indexes is an equality on the column
(query/chain.py, query/debug.py), which implies `IS NOT NULL`, so both SQLite and Postgres still choose
them. The index names stay those of DEVIATIONS.md.

Revision ID: 0005_partial_lineage_indexes
Revises: 0004_trace_rollups
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_partial_lineage_indexes"
down_revision = "0004_trace_rollups"
branch_labels = None
depends_on = None

COLUMNS = ("trace_group_id", "lineage_thread_id", "lineage_run_id")
NEWEST_FIRST = [sa.text("created_at DESC"), sa.text("id DESC")]


def _recreate(partial: bool) -> None:
    for name in COLUMNS:
        index = f"idx_traces_{name}_created_at_id"
        where = sa.text(f"{name} IS NOT NULL") if partial else None
        op.drop_index(index, "traces")
        op.create_index(index, "traces", [name, *NEWEST_FIRST], sqlite_where=where, postgresql_where=where)


def upgrade() -> None:
    _recreate(partial=True)


def downgrade() -> None:
    _recreate(partial=False)
