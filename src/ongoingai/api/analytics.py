"""`GET /api/analytics/*` (http-api.md §8): usage, cost, models, keys, latency, errors, summary.

All seven take `from`, `to` (as `/api/traces`), `provider`, `model`, and the caller's tenant scope.
Bad options → 400 `invalid group_by: "x"` / `invalid bucket: "x"`; store failures → 500
`failed to read analytics`. Summary-mode keys are snake_case (DEVIATIONS.md).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response

from ongoingai.api.context import context_of, read_connection, tenant_scope_of
from ongoingai.api.params import ParamDoc, parse_time
from ongoingai.api.render import error_response, json_response
from ongoingai.api.traces import NO_STORE, STORE_ERRORS
from ongoingai.http.errors import BadRequest
from ongoingai.query.analytics import AnalyticsFilter, GroupBy, cost_series, usage_series
from ongoingai.query.analytics_latency import error_stats, latency_stats
from ongoingai.query.analytics_totals import cost_summary, key_stats, model_stats, summary, usage_summary
from ongoingai.query.buckets import Bucket

logger = logging.getLogger(__name__)

ANALYTICS_PARAMS: tuple[ParamDoc, ...] = (
    ParamDoc("from", "string", "timestamp >= this; RFC 3339 or YYYY-MM-DD (UTC midnight)"),
    ParamDoc("to", "string", "timestamp <= this; RFC 3339 or YYYY-MM-DD (end of that UTC day)"),
    ParamDoc("provider", "string", "exact provider"),
    ParamDoc("model", "string", "exact model"),
)
SERIES_PARAMS = (
    *ANALYTICS_PARAMS,
    ParamDoc("group_by", "string", "provider or model; with bucket, a series instead of the summary"),
    ParamDoc("bucket", "string", "hour, day or week (UTC, weeks start Monday); default day in series mode"),
)
GROUPED_PARAMS = (*ANALYTICS_PARAMS, ParamDoc("group_by", "string", "provider, model, route or key"))

SERIES_GROUPS = (GroupBy.PROVIDER, GroupBy.MODEL)

Query = Callable[[AsyncConnection], Awaitable[Any]]


def parse_analytics_filter(query: Mapping[str, str], request: Request) -> AnalyticsFilter:
    """`from`/`to`/`provider`/`model` with the `/api/traces` rules and messages, plus the tenant scope.

    Raises:
        BadRequest: a time is malformed or `to` precedes `from`.
    """
    since = parse_time(query, "from")
    until = parse_time(query, "to", end_of_day=True)
    if since is not None and until is not None and until < since:
        raise BadRequest("to must be greater than or equal to from")
    return AnalyticsFilter(
        since=since,
        until=until,
        provider=query.get("provider", "").strip(),
        model=query.get("model", "").strip(),
        scope=tenant_scope_of(request),
    )


def parse_group_by(query: Mapping[str, str], allowed: tuple[GroupBy, ...]) -> GroupBy | None:
    """Case-insensitive; empty means ungrouped. Raises `BadRequest` `invalid group_by: "x"`."""
    raw = query.get("group_by", "").strip()
    if not raw:
        return None
    choice = raw.lower()
    for group in allowed:
        if group.value == choice:
            return group
    raise BadRequest(f'invalid group_by: "{raw}"')


def parse_bucket(query: Mapping[str, str]) -> Bucket | None:
    """hour/day/week, case-insensitive; empty means "not given". Raises `BadRequest` `invalid bucket: "x"`."""
    raw = query.get("bucket", "").strip()
    if not raw:
        return None
    try:
        return Bucket(raw.lower())
    except ValueError:
        raise BadRequest(f'invalid bucket: "{raw}"') from None


async def _answer(request: Request, run: Query) -> Response:
    store = context_of(request).store
    if store is None:
        return error_response(503, NO_STORE)
    try:
        async with read_connection(request, store) as conn:
            result = await run(conn)
    except STORE_ERRORS:
        logger.exception("failed to read analytics")
        return error_response(500, "failed to read analytics")
    if isinstance(result, list):
        return json_response({"items": [item.as_dict() for item in result]})
    return json_response(result.as_dict())


def _series_or_summary(request: Request, series: Any, total: Any) -> Query:
    query = request.query_params
    f = parse_analytics_filter(query, request)
    group_by = parse_group_by(query, SERIES_GROUPS)
    bucket = parse_bucket(query)
    if group_by is None and bucket is None:
        return lambda conn: total(conn, f)
    return lambda conn: series(conn, f, group_by, bucket or Bucket.DAY)


async def get_usage(request: Request) -> Response:
    return await _answer(request, _series_or_summary(request, usage_series, usage_summary))


async def get_cost(request: Request) -> Response:
    return await _answer(request, _series_or_summary(request, cost_series, cost_summary))


async def get_models(request: Request) -> Response:
    f = parse_analytics_filter(request.query_params, request)
    return await _answer(request, lambda conn: model_stats(conn, f))


async def get_keys(request: Request) -> Response:
    f = parse_analytics_filter(request.query_params, request)
    return await _answer(request, lambda conn: key_stats(conn, f))


async def get_summary(request: Request) -> Response:
    f = parse_analytics_filter(request.query_params, request)
    return await _answer(request, lambda conn: summary(conn, f))


async def get_latency(request: Request) -> Response:
    f = parse_analytics_filter(request.query_params, request)
    group_by = parse_group_by(request.query_params, tuple(GroupBy))
    return await _answer(request, lambda conn: latency_stats(conn, f, group_by))


async def get_errors(request: Request) -> Response:
    f = parse_analytics_filter(request.query_params, request)
    group_by = parse_group_by(request.query_params, tuple(GroupBy))
    return await _answer(request, lambda conn: error_stats(conn, f, group_by))
