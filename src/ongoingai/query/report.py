"""The `report` data (config-and-cli.md §5): the same analytics the API serves, plus recent traces.

Three queries: the grouped totals cube (analytics_totals.py: summary, providers, models, keys — the same
arithmetic as `/api/analytics/*`, so the two agree), requests and cost per UTC day (the text chart), and
the newest `limit` traces (an indexed limit).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ongoingai.query.analytics import (
    AnalyticsFilter,
    CostPoint,
    KeyStats,
    ModelStats,
    ProviderTotals,
    Summary,
    cost_series,
)
from ongoingai.query.analytics_totals import keys_of, models_of, providers_of, summary_of, usage_cube
from ongoingai.query.buckets import Bucket
from ongoingai.query.traces import TraceFilter, list_traces
from ongoingai.traces import TraceRecord

DEFAULT_REPORT_LIMIT = 10
MAX_REPORT_LIMIT = 200
UNKNOWN_PROVIDER = "(unknown)"


@dataclass(frozen=True, slots=True)
class ReportFilter:
    analytics: AnalyticsFilter
    limit: int = DEFAULT_REPORT_LIMIT


@dataclass(frozen=True, slots=True)
class Report:
    summary: Summary
    providers: list[ProviderTotals]  # tokens DESC, cost DESC, name ASC; empty name → `(unknown)`
    models: list[ModelStats]
    api_keys: list[KeyStats]
    recent_traces: list[TraceRecord]  # newest first
    daily: list[CostPoint]  # requests and cost per UTC day, day ASC (text mode's chart)

    def sections(self) -> dict[str, Any]:
        """The `summary`, `providers`, `models`, `api_keys`, `recent_traces` parts of `report.v1`."""
        return {
            "summary": self.summary.as_dict(),
            "providers": [
                {
                    "provider": p.provider,
                    "input_tokens": p.input_tokens,
                    "output_tokens": p.output_tokens,
                    "total_tokens": p.total_tokens,
                    "total_cost_usd": p.total_cost_usd,
                }
                for p in self.providers
            ],
            "models": [m.as_dict() for m in self.models],
            "api_keys": [k.as_dict() for k in self.api_keys],
            "recent_traces": [
                {
                    "id": t.id,
                    "timestamp": t.timestamp,
                    "provider": t.provider,
                    "model": t.model,
                    "response_status": t.response_status,
                    "total_tokens": t.total_tokens,
                    "estimated_cost_usd": t.estimated_cost_usd,
                    "latency_ms": t.latency_ms,
                    "request_path": t.request_path,
                }
                for t in self.recent_traces
            ],
        }


def report_providers(totals: list[ProviderTotals]) -> list[ProviderTotals]:
    """Empty names become `(unknown)` (merged), then tokens DESC, cost DESC, name ASC."""
    by_name: dict[str, list[ProviderTotals]] = {}
    for row in totals:
        by_name.setdefault(row.provider.strip() or UNKNOWN_PROVIDER, []).append(row)
    merged = [
        ProviderTotals(
            name,
            sum(r.request_count for r in rows),
            sum(r.input_tokens for r in rows),
            sum(r.output_tokens for r in rows),
            sum(r.total_tokens for r in rows),
            sum((r.total_cost_usd for r in rows), 0.0),
        )
        for name, rows in by_name.items()
    ]
    return sorted(merged, key=lambda p: (-p.total_tokens, -p.total_cost_usd, p.provider))


async def build_report(conn: AsyncConnection, f: ReportFilter) -> Report:
    """Everything `ongoingai report` prints, unscoped (the CLI reads the whole store).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the store failed.
    """
    a = f.analytics
    cube = await usage_cube(conn, a)
    daily = await cost_series(conn, a, None, Bucket.DAY)
    trace_filter = TraceFilter(
        limit=f.limit, since=a.since, until=a.until, provider=a.provider, model=a.model
    )
    recent = await list_traces(conn, trace_filter)
    return Report(
        summary=summary_of(cube),
        providers=report_providers(providers_of(cube)),
        models=models_of(cube),
        api_keys=keys_of(cube),
        # config-and-cli.md §5: timestamp DESC, id DESC (the list query orders by created_at).
        recent_traces=sorted(recent.items, key=lambda r: (r.timestamp, r.id), reverse=True),
        daily=[p for p in daily.items if isinstance(p, CostPoint)],
    )
