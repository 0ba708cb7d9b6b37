"""`ongoingai report`: usage, cost, models, keys and recent traces read straight from storage.

config-and-cli.md §4–5: flags `--config --format --from --to --provider --model --limit` (10; 1–200);
unscoped; JSON is `report.v1` (docs/cli-json.md). The figures come from the same query functions as
`/api/analytics/*` and `/api/traces`, so the CLI and the API agree on the same data.
"""

from __future__ import annotations

import asyncio
from typing import Any

import typer
from sqlalchemy.exc import SQLAlchemyError

from ongoingai.api.params import parse_time
from ongoingai.cli.documents import dump_document, generated_at
from ongoingai.cli.loading import load_config
from ongoingai.cli.options import OutputFormat, parse_format
from ongoingai.cli.output import fail, usage_error
from ongoingai.cli.report_text import render_report_text
from ongoingai.cli.store_access import ReadOnlyStoreError, read_only_store
from ongoingai.config import Settings
from ongoingai.http.errors import BadRequest
from ongoingai.query.analytics import AnalyticsFilter
from ongoingai.query.report import MAX_REPORT_LIMIT, Report, ReportFilter, build_report

REPORT_SCHEMA_VERSION = "report.v1"


def parse_report_filter(raw_from: str, raw_to: str, provider: str, model: str, limit: int) -> ReportFilter:
    """The validated filter, or a usage error (exit 2) with the spec's message."""
    if not 1 <= limit <= MAX_REPORT_LIMIT:
        usage_error(f"limit must be between 1 and {MAX_REPORT_LIMIT}")
    try:
        since = parse_time({"from": raw_from}, "from")
        until = parse_time({"to": raw_to}, "to", end_of_day=True)
    except BadRequest as exc:
        usage_error(exc.message)
    if since is not None and until is not None and until < since:
        usage_error("invalid range: to must be greater than or equal to from")
    analytics = AnalyticsFilter(since=since, until=until, provider=provider.strip(), model=model.strip())
    return ReportFilter(analytics, limit)


def report_document(report: Report, settings: Settings, f: ReportFilter) -> dict[str, Any]:
    """`report.v1`: header fields, then the sections in the spec's order."""
    storage: dict[str, Any] = {"driver": settings.storage.driver}
    if settings.storage.driver == "sqlite":
        storage["path"] = settings.storage.path
    a = f.analytics
    filters = {"provider": a.provider, "model": a.model, "from": a.since, "to": a.until}
    header: dict[str, Any] = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "generated_at": generated_at(),
        "storage": storage,
        "filters": {**{k: v for k, v in filters.items() if v}, "limit": f.limit},
    }
    return header | report.sections()


async def read_report(settings: Settings, f: ReportFilter) -> Report:
    """Open the store read-only and build the report; exits 1 with the reason when that fails."""
    try:
        async with read_only_store(settings) as store, store.connect() as conn:
            return await build_report(conn, f)
    except ReadOnlyStoreError as exc:
        fail(str(exc))
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        fail(f"failed to build report: {type(exc).__name__}: {exc}")


def run_report(
    args: list[str], config: str, output: str, since: str, until: str, provider: str, model: str, limit: int
) -> None:
    """Validate (usage errors exit 2, in the original's order), load config, read, print."""
    if args:
        usage_error("report does not accept positional arguments")
    fmt = parse_format("report", output)
    f = parse_report_filter(since, until, provider, model, limit)
    settings = load_config(config)
    result = asyncio.run(read_report(settings, f))
    document = report_document(result, settings, f)
    if fmt is OutputFormat.JSON:
        typer.echo(dump_document(document).decode(), nl=False)
    else:
        render_report_text(document, result.daily)
