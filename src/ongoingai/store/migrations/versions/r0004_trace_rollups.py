"""Hourly and daily trace rollups for analytics (issue 5 "Performance"), back-filled from stored traces.

`trace_rollups_hourly` and `trace_rollups_daily` hold, per UTC hour (day), tenant, provider, model,
provider-credential hash and gateway key id, the sums every analytics answer but latency percentiles is
made of. The writer keeps them current in each insert's transaction (store/rollup.py); this revision fills
them from the traces already stored, with the same normalisation (empty key hash / key id → '', NULL
figures → 0): hours from `traces`, days from the hours. On Postgres both get the same tenant
row-level-security policy as `traces` (revision 0003). One index is added to `traces`, for `/api/traces`
pages filtered by time (issue 3 "Performance").

Revision ID: 0004_trace_rollups
Revises: 0003_tenancy_keys_audit
Create Date: 2025-06-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_trace_rollups"
down_revision = "0003_tenancy_keys_audit"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
POLICY = "ongoingai_tenant_isolation"
KEY = ("bucket_start", "org_id", "workspace_id", "provider", "model", "api_key_hash", "gateway_key_id")
SUMS = (
    "request_count",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cost_usd",
    "latency_ms_sum",
    "ttft_ms_sum",
    "error_4xx",
    "error_5xx",
)
TABLES = ("trace_rollups_hourly", "trace_rollups_daily")

# A bucket in each backend's stored form: SQLite keeps fixed-width UTC text (store/columns.py).
_HOUR = {
    "sqlite": "substr(timestamp, 1, 13) || ':00:00.000000+00:00'",
    "postgresql": "date_trunc('hour', timestamp AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
}
_DAY = {
    "sqlite": "substr(bucket_start, 1, 10) || ' 00:00:00.000000+00:00'",
    "postgresql": "date_trunc('day', bucket_start AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
}
_COLUMNS = ", ".join((*KEY, *SUMS, "last_created_at"))
_HOURS_FROM_TRACES = """
INSERT INTO trace_rollups_hourly ({columns})
SELECT {hour}, org_id, workspace_id, provider, model,
    COALESCE(api_key_hash, ''), COALESCE(gateway_key_id, ''),
    COUNT(*), COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0),
    COALESCE(SUM(total_tokens), 0), COALESCE(SUM(estimated_cost_usd), 0),
    COALESCE(SUM(latency_ms), 0), COALESCE(SUM(time_to_first_token_ms), 0),
    SUM(CASE WHEN COALESCE(response_status, 0) BETWEEN 400 AND 499 THEN 1 ELSE 0 END),
    SUM(CASE WHEN COALESCE(response_status, 0) >= 500 THEN 1 ELSE 0 END),
    MAX(created_at)
FROM traces
GROUP BY {hour}, org_id, workspace_id, provider, model,
    COALESCE(api_key_hash, ''), COALESCE(gateway_key_id, '')
"""
_DAYS_FROM_HOURS = """
INSERT INTO trace_rollups_daily ({columns})
SELECT {day}, org_id, workspace_id, provider, model, api_key_hash, gateway_key_id,
    {sums}, MAX(last_created_at)
FROM trace_rollups_hourly
GROUP BY {day}, org_id, workspace_id, provider, model, api_key_hash, gateway_key_id
"""


def _tenant_condition() -> str:
    def matches(setting: str, column: str) -> str:
        current = f"current_setting('{setting}', true)"
        return f"(COALESCE({current}, '') = '' OR {column} = {current})"

    return matches("ongoingai.org_id", "org_id") + " AND " + matches("ongoingai.workspace_id", "workspace_id")


def _create(table: str) -> None:
    op.create_table(
        table,
        sa.Column("bucket_start", TIMESTAMP, nullable=False),
        *(sa.Column(name, sa.Text, nullable=False) for name in KEY[1:]),
        *(
            sa.Column(name, sa.Float if name == "cost_usd" else sa.BigInteger, nullable=False)
            for name in SUMS
        ),
        sa.Column("last_created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint(*KEY, name=f"pk_{table}"),
    )
    op.create_index(f"idx_{table}_org_workspace_bucket", table, ["org_id", "workspace_id", "bucket_start"])


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    # A `/api/traces` page filtered by time sorts the range's (created_at, id) from this index alone
    # (query/traces.py `range_sorted_query`); without it every row in the range is read to sort it.
    newest_first = [sa.text("created_at DESC"), sa.text("id DESC")]
    op.create_index("idx_traces_timestamp_created_at_id", "traces", ["timestamp", *newest_first])
    for table in TABLES:
        _create(table)
    op.execute(_HOURS_FROM_TRACES.format(columns=_COLUMNS, hour=_HOUR[dialect]))
    sums = ", ".join(f"SUM({name})" for name in SUMS)
    op.execute(_DAYS_FROM_HOURS.format(columns=_COLUMNS, day=_DAY[dialect], sums=sums))
    if dialect == "postgresql":
        condition = _tenant_condition()
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(f"CREATE POLICY {POLICY} ON {table} USING ({condition}) WITH CHECK ({condition})")


def downgrade() -> None:
    op.drop_index("idx_traces_timestamp_created_at_id", "traces")
    for table in TABLES:
        op.drop_table(table)
