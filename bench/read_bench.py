"""Read-side benchmark (issues 3 and 5): analytics, report and `/api/traces` timings on a seeded store.

    .venv/bin/python bench/seed_traces.py --sqlite /tmp/bench.db
    .venv/bin/python bench/read_bench.py --sqlite /tmp/bench.db --postgres postgresql://…/ongoingai_bench

Every figure is measured in-process through the same query functions the API and the CLI call (no HTTP),
as the median of `--runs` runs after one warm-up run; the trace list includes rendering the page to JSON.
`ongoingai report` is also timed as a whole command (a subprocess: interpreter start, imports, store open,
queries, output). For each `/api/traces` filter the query plan is printed (SQLite `EXPLAIN QUERY PLAN`,
Postgres `EXPLAIN`). Nothing here asserts: on a shared machine the figures are noisy, read them as such.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable

from ongoingai.api.params import parse_trace_filter
from ongoingai.api.render import dumps, render_page
from ongoingai.config import Settings
from ongoingai.query import Cursor, TenantScope, encode_cursor, list_traces
from ongoingai.query.analytics import AnalyticsFilter, GroupBy, cost_series, raw_series_rows, usage_series
from ongoingai.query.analytics_latency import error_stats, latency_stats
from ongoingai.query.analytics_totals import (
    key_stats,
    keys_of,
    merge_cube,
    model_stats,
    models_of,
    providers_of,
    raw_usage_cube,
    summary,
    summary_of,
)
from ongoingai.query.report import ReportFilter, build_report
from ongoingai.query.traces import TraceFilter, list_query, page_query
from ongoingai.store import SqlTraceStore, open_trace_store
from ongoingai.store.columns import parse_stored_time
from ongoingai.store.tables import traces

ROOT = Path(__file__).resolve().parents[1]
Timed = Callable[[AsyncConnection], Awaitable[Any]]


class Explain(Executable, ClauseElement):
    """`EXPLAIN …` in front of a compiled SELECT, so bound parameters keep their type processing."""

    inherit_cache = False

    def __init__(self, statement: sa.Select[Any], prefix: str) -> None:
        self.statement = statement
        self.prefix = prefix


@compiles(Explain)
def _compile_explain(element: Explain, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{element.prefix} {compiler.process(element.statement, **kw)}"


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    run: Timed
    target_ms: dict[str, float]


SQLITE, POSTGRES = "sqlite", "postgres"
ANALYTICS_TARGET = {SQLITE: 300.0, POSTGRES: 150.0}
LIST_TARGET = {SQLITE: 50.0, POSTGRES: 50.0}
NO_TARGET: dict[str, float] = {}


async def raw_report(conn: AsyncConnection, f: AnalyticsFilter) -> Any:
    """What `build_report` cost before the rollups: the cube and the daily series from `traces` alone."""
    cube = merge_cube([await raw_usage_cube(conn, f)])
    daily = await raw_series_rows(conn, f, None, ALL_DAY, ["total_cost_usd"])
    recent = await list_traces(conn, TraceFilter(limit=10))
    return summary_of(cube), models_of(cube), keys_of(cube), providers_of(cube), daily, recent


def raw_cases() -> list[Case]:
    """The three targets answered the pre-rollup way (`--raw`): the "before" column."""
    everything = AnalyticsFilter()
    values = ["input_tokens", "output_tokens", "total_tokens"]

    async def raw_summary(conn: AsyncConnection) -> Any:
        return summary_of(merge_cube([await raw_usage_cube(conn, everything)]))

    return [
        Case("summary (raw)", raw_summary, ANALYTICS_TARGET),
        Case(
            "usage group_by=model bucket=day (raw)",
            lambda c: raw_series_rows(c, everything, GroupBy.MODEL, ALL_DAY, values),
            ANALYTICS_TARGET,
        ),
        Case("report (queries, raw)", lambda c: raw_report(c, everything), ANALYTICS_TARGET),
    ]


def analytics_cases() -> list[Case]:
    everything = AnalyticsFilter()
    # Unaligned edges: the rollup answers the whole hours, raw rows the two partial ones.
    window = AnalyticsFilter(
        since=parse_stored_time("2025-06-03T10:17:00Z"), until=parse_stored_time("2025-06-21T16:42:13Z")
    )
    scoped = AnalyticsFilter(scope=TenantScope("acme", "prod"))
    return [
        Case("summary", lambda c: summary(c, everything), ANALYTICS_TARGET),
        Case(
            "usage group_by=model bucket=day",
            lambda c: usage_series(c, everything, GroupBy.MODEL, ALL_DAY),
            ANALYTICS_TARGET,
        ),
        Case("report (queries)", lambda c: build_report(c, ReportFilter(everything)), ANALYTICS_TARGET),
        Case("summary, unaligned window", lambda c: summary(c, window), NO_TARGET),
        Case("summary, tenant acme/prod", lambda c: summary(c, scoped), NO_TARGET),
        Case(
            "cost group_by=provider bucket=hour",
            lambda c: cost_series(c, everything, GroupBy.PROVIDER, ALL_HOUR),
            NO_TARGET,
        ),
        Case("models", lambda c: model_stats(c, everything), NO_TARGET),
        Case("keys", lambda c: key_stats(c, everything), NO_TARGET),
        Case("errors group_by=model", lambda c: error_stats(c, everything, GroupBy.MODEL), NO_TARGET),
        Case("errors group_by=route", lambda c: error_stats(c, everything, GroupBy.ROUTE), NO_TARGET),
        Case("latency (percentiles, raw)", lambda c: latency_stats(c, everything, None), NO_TARGET),
    ]


def _bucket(name: str) -> Any:
    from ongoingai.query.buckets import Bucket

    return Bucket(name)


ALL_DAY = _bucket("day")
ALL_HOUR = _bucket("hour")


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# Values the seed (bench/seed_traces.py, seed 1) is known to hold; a busy key and a rare one.
LIST_FILTERS: dict[str, dict[str, str]] = {
    "first page (no filter)": {},
    "provider=anthropic": {"provider": "anthropic"},
    "model=claude-opus-4 (rare)": {"model": "claude-opus-4-20250514"},
    "model=gpt-4o-mini (common)": {"model": "gpt-4o-mini"},
    "api_key_hash (busy key)": {"api_key_hash": _hash("credential-0-0")},
    "api_key_hash (quiet key)": {"api_key_hash": _hash("credential-50-0")},
    "status=200": {"status": "200"},
    "status=504": {"status": "504"},
    "trace_group_id": {"trace_group_id": "grp_00010000"},
    "thread_id": {"thread_id": "thread_00010000"},
    "run_id": {"run_id": "run_00010000"},
    "min_tokens=20000 (rare)": {"min_tokens": "20000"},
    "min_tokens=500 (common)": {"min_tokens": "500"},
    "max_tokens=50": {"max_tokens": "50"},
    "tokens 1000..1010": {"min_tokens": "1000", "max_tokens": "1010"},
    "from/to one old day": {"from": "2025-06-05", "to": "2025-06-05"},
    "from/to one old hour": {"from": "2025-06-05T14:00:00Z", "to": "2025-06-05T15:00:00Z"},
    "from only (recent)": {"from": "2025-06-29"},
    "to only (old)": {"to": "2025-06-02"},
}
DEEP_FILTERS = ("first page (no filter)", "provider=anthropic", "status=200", "min_tokens=500 (common)")


async def deep_cursor(conn: AsyncConnection, query: dict[str, str]) -> str:
    """The cursor a client holds after paging half way through the rows matching `query`."""
    f = parse_trace_filter(query)
    count_query = list_query(f).with_only_columns(sa.func.count()).limit(None).order_by(None)
    matching = int((await conn.execute(count_query)).scalar_one())
    c = traces.c
    probe = list_query(f).with_only_columns(c.created_at, c.id).limit(1).offset(matching // 2)
    created_at, trace_id = (await conn.execute(probe)).one()
    return encode_cursor(Cursor(created_at, trace_id))


def list_case(name: str, query: dict[str, str]) -> Case:
    async def run(conn: AsyncConnection) -> bytes:
        return dumps(render_page(await list_traces(conn, parse_trace_filter(query))))

    return Case(name, run, LIST_TARGET)


async def timed(conn: AsyncConnection, case: Case, runs: int) -> float:
    await case.run(conn)  # warm-up: page cache, statement cache
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        await case.run(conn)
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


async def plan(conn: AsyncConnection, query: dict[str, str], backend: str) -> list[str]:
    statement = await page_query(conn, parse_trace_filter(query))
    if backend == SQLITE:
        rows = (await conn.execute(Explain(statement, "EXPLAIN QUERY PLAN"))).all()
        return [str(row[3]) for row in rows]
    rows = (await conn.execute(Explain(statement, "EXPLAIN (COSTS OFF)"))).all()
    return [str(row[0]) for row in rows]


def report_command(settings_yaml: str, runs: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "ongoingai.yaml"
        config.write_text(settings_yaml)
        command = [str(ROOT / ".venv/bin/ongoingai"), "report", "--config", str(config), "--format", "json"]
        subprocess.run(command, check=True, capture_output=True)  # warm-up (bytecode, page cache)
        samples = []
        for _ in range(runs):
            began = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


async def bench_backend(
    store: SqlTraceStore, backend: str, runs: int, raw: bool
) -> tuple[list[Any], list[str]]:
    rows: list[Any] = []
    plans: list[str] = []
    async with store.connect() as conn:
        count = int((await conn.execute(sa.select(sa.func.count()).select_from(traces))).scalar_one())
        plans.append(f"### {backend}: {count} traces")
        if raw:
            for case in raw_cases():
                rows.append((backend, case.name, await timed(conn, case, runs), case.target_ms.get(backend)))
            return rows, plans
        cases = analytics_cases() + [list_case(name, q) for name, q in LIST_FILTERS.items()]
        for name in DEEP_FILTERS:
            query = dict(LIST_FILTERS[name])
            query["cursor"] = await deep_cursor(conn, query)
            cases.append(list_case(f"{name}, deep cursor (middle)", query))
        for case in cases:
            ms = await timed(conn, case, runs)
            rows.append((backend, case.name, ms, case.target_ms.get(backend)))
        for name, query in LIST_FILTERS.items():
            plans.append(f"- {name}: " + " | ".join(await plan(conn, query, backend)))
        deep = {"provider": "anthropic", "cursor": await deep_cursor(conn, {"provider": "anthropic"})}
        plans.append("- provider=anthropic, deep cursor: " + " | ".join(await plan(conn, deep, backend)))
    return rows, plans


def config_yaml(backend: str, where: str) -> str:
    if backend == SQLITE:
        return f"storage: {{driver: sqlite, path: {where}}}\n"
    return f"storage: {{driver: postgres, dsn: '{where}'}}\n"


async def open_store(backend: str, where: str) -> SqlTraceStore:
    if backend == SQLITE:
        settings = Settings(storage={"driver": "sqlite", "path": where})
    else:
        settings = Settings(
            storage={"driver": "postgres", "dsn": where, "pool": {"min_size": 1, "max_size": 2}}
        )
    return await open_trace_store(settings, migrate=False)


async def run_backend(backend: str, where: str, runs: int, raw: bool) -> tuple[list[Any], list[str]]:
    store = await open_store(backend, where)
    try:
        return await bench_backend(store, backend, runs, raw)
    finally:
        await store.close()


def render(rows: list[Any]) -> str:
    lines = ["| backend | query | median ms | target ms | |", "| --- | --- | ---: | ---: | --- |"]
    for backend, name, ms, target in rows:
        verdict = "" if target is None else ("ok" if ms <= target else "OVER")
        shown = "" if target is None else f"{target:.0f}"
        lines.append(f"| {backend} | {name} | {ms:.1f} | {shown} | {verdict} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--sqlite", help="seeded SQLite file")
    parser.add_argument("--postgres", help="DSN of a seeded Postgres database")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-command", action="store_true", help="skip timing the `report` command")
    parser.add_argument("--raw", action="store_true", help="only the three targets, without the rollups")
    args = parser.parse_args(argv)
    targets = [(b, w) for b, w in ((SQLITE, args.sqlite), (POSTGRES, args.postgres)) if w]
    if not targets:
        parser.error("give --sqlite and/or --postgres")
    rows: list[Any] = []
    plans: list[str] = []
    for backend, where in targets:
        got, backend_plans = asyncio.run(run_backend(backend, where, args.runs, args.raw))
        rows += got
        plans += backend_plans
        if not args.no_command and not args.raw:
            ms = report_command(config_yaml(backend, where), max(3, args.runs // 2))
            rows.append((backend, "`ongoingai report` command (wall)", ms, 1000.0))
    print(render(rows))
    print()
    print("Query plans of `GET /api/traces` (page_query):")
    print("\n".join(plans))
    return 0


if __name__ == "__main__":
    sys.exit(main())
