"""The `traces` table, defined once with SQLAlchemy Core for both backends (traces-and-lineage.md §3).

The schema itself is created by the Alembic migrations in `store/migrations/`; this definition is what
reads and writes bind against, and a test checks the two agree. DEVIATIONS.md adds the real columns
`lineage_thread_id` / `lineage_run_id` and the indexes on them, `trace_group_id` and `total_tokens`.
"""

from __future__ import annotations

import sqlalchemy as sa

from ongoingai.store.columns import JsonDocument, UtcDateTime

metadata = sa.MetaData()

traces = sa.Table(
    "traces",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("trace_group_id", sa.Text),
    sa.Column("org_id", sa.Text, nullable=False, server_default="default"),
    sa.Column("workspace_id", sa.Text, nullable=False, server_default="default"),
    sa.Column("timestamp", UtcDateTime(), nullable=False),
    sa.Column("provider", sa.Text, nullable=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("request_method", sa.Text, nullable=False),
    sa.Column("request_path", sa.Text, nullable=False),
    sa.Column("request_headers", JsonDocument()),
    sa.Column("response_headers", JsonDocument()),
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
    sa.Column("metadata", JsonDocument()),
    sa.Column("created_at", UtcDateTime(), nullable=False, server_default=sa.func.now()),
    sa.Column("lineage_thread_id", sa.Text),
    sa.Column("lineage_run_id", sa.Text),
)

_NEWEST_FIRST = (sa.desc(traces.c.created_at), sa.desc(traces.c.id))


def _by_column_indexes() -> list[sa.Index]:
    # Every /api/traces equality filter gets (col, created_at DESC, id DESC) so a filtered first page
    # and a deep cursor page are both index range scans; the spec's (col, timestamp) twins stay too.
    out: list[sa.Index] = []
    for name in ("provider", "model", "api_key_hash", "response_status"):
        col = traces.c[name]
        out.append(sa.Index(f"idx_traces_{name}_created_at_id", col, *_NEWEST_FIRST))
        out.append(sa.Index(f"idx_traces_{name}_timestamp", col, traces.c.timestamp))
    for name in ("trace_group_id", "lineage_thread_id", "lineage_run_id"):
        # Partial (migration 0005): most traces carry no lineage; every read is an equality on the column.
        present = traces.c[name].isnot(None)
        out.append(
            sa.Index(
                f"idx_traces_{name}_created_at_id",
                traces.c[name],
                *_NEWEST_FIRST,
                sqlite_where=present,
                postgresql_where=present,
            )
        )
    return out


INDEXES: tuple[sa.Index, ...] = (
    sa.Index("idx_traces_timestamp", traces.c.timestamp),
    sa.Index("idx_traces_provider", traces.c.provider),
    sa.Index("idx_traces_model", traces.c.model),
    sa.Index("idx_traces_api_key_hash", traces.c.api_key_hash),
    sa.Index("idx_traces_gateway_key_id", traces.c.gateway_key_id),
    sa.Index("idx_traces_created_at_id", *_NEWEST_FIRST),
    sa.Index(
        "idx_traces_org_workspace_created_at_id", traces.c.org_id, traces.c.workspace_id, *_NEWEST_FIRST
    ),
    sa.Index(
        "idx_traces_org_workspace_timestamp", traces.c.org_id, traces.c.workspace_id, traces.c.timestamp
    ),
    sa.Index(
        "idx_traces_org_workspace_gateway_key_timestamp",
        traces.c.org_id,
        traces.c.workspace_id,
        traces.c.gateway_key_id,
        traces.c.timestamp,
    ),
    sa.Index("idx_traces_total_tokens", traces.c.total_tokens),
    # Migration 0004: covers a time-range page sorted by (created_at, id) without reading the table.
    sa.Index("idx_traces_timestamp_created_at_id", traces.c.timestamp, *_NEWEST_FIRST),
    *_by_column_indexes(),
)

# Sums of `traces` per UTC hour (and per UTC day) and per tenant, provider, model, provider credential and
# gateway key (migration 0004), kept by the writer in each insert's transaction (store/rollup.py).
# Analytics read whole days from the daily table, whole hours from the hourly one and only the partial
# hours at a range's edges from `traces`. Empty key hash / key id are stored as ''.
ROLLUP_KEY = (
    "bucket_start",
    "org_id",
    "workspace_id",
    "provider",
    "model",
    "api_key_hash",
    "gateway_key_id",
)


def _rollup_table(name: str) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        *(
            sa.Column(key, UtcDateTime() if key == "bucket_start" else sa.Text, primary_key=True)
            for key in ROLLUP_KEY
        ),
        sa.Column("request_count", sa.BigInteger, nullable=False),
        sa.Column("input_tokens", sa.BigInteger, nullable=False),
        sa.Column("output_tokens", sa.BigInteger, nullable=False),
        sa.Column("total_tokens", sa.BigInteger, nullable=False),
        sa.Column("cost_usd", sa.Float, nullable=False),
        sa.Column("latency_ms_sum", sa.BigInteger, nullable=False),
        sa.Column("ttft_ms_sum", sa.BigInteger, nullable=False),
        sa.Column("error_4xx", sa.BigInteger, nullable=False),
        sa.Column("error_5xx", sa.BigInteger, nullable=False),
        sa.Column("last_created_at", UtcDateTime(), nullable=False),
        sa.Index(f"idx_{name}_org_workspace_bucket", "org_id", "workspace_id", "bucket_start"),
    )


trace_rollups_hourly = _rollup_table("trace_rollups_hourly")
trace_rollups_daily = _rollup_table("trace_rollups_daily")
