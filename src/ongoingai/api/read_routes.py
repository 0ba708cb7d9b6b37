"""The read-side routes (analytics, replay, fork) as rows of the route table in `routes.py`.

Kept here so the analytics and lineage endpoints are listed next to their parameters; `routes.ROUTES`
turns each row into an `ApiRoute`, so method checks, errors and OpenAPI work as for every other route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import NamedTuple

from starlette.requests import Request
from starlette.responses import Response

from ongoingai.api import analytics
from ongoingai.api.lineage import REPLAY_PARAMS, get_replay, post_fork
from ongoingai.api.params import ParamDoc


class RouteSpec(NamedTuple):
    path: str
    methods: tuple[str, ...]
    handler: Callable[[Request], Awaitable[Response]]
    summary: str
    responses: dict[int, str]
    params: tuple[ParamDoc, ...] = ()


def _errors(*extra: int) -> dict[int, str]:
    return {status: "Error" for status in (400, *extra, 500, 503)}


def _analytics(name: str, summary: str, schema: str, params: tuple[ParamDoc, ...]) -> RouteSpec:
    handler = getattr(analytics, f"get_{name}")
    return RouteSpec(f"/api/analytics/{name}", ("GET",), handler, summary, {200: schema, **_errors()}, params)


READ_SIDE_ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec(
        "/api/traces/{trace_id}/replay",
        ("GET",),
        get_replay,
        "Ordered checkpoint history up to a checkpoint (reads only)",
        {200: "Replay", **_errors(404)},
        REPLAY_PARAMS,
    ),
    RouteSpec(
        "/api/traces/{trace_id}/fork",
        ("POST",),
        post_fork,
        "Lineage headers for a new branch from a checkpoint (persists nothing)",
        {200: "Fork", **_errors(404, 413)},
    ),
    _analytics(
        "usage", "Token totals, or a series with group_by/bucket", "UsageAnalytics", analytics.SERIES_PARAMS
    ),
    _analytics(
        "cost", "Cost total, or a series with group_by/bucket", "CostAnalytics", analytics.SERIES_PARAMS
    ),
    _analytics(
        "models",
        "Per-model counts, latency, TTFT, tokens, cost",
        "ModelAnalytics",
        analytics.ANALYTICS_PARAMS,
    ),
    _analytics(
        "keys",
        "Per-credential-hash counts, tokens, cost, activity",
        "KeyAnalytics",
        analytics.ANALYTICS_PARAMS,
    ),
    _analytics(
        "latency",
        "Latency count, average, min, max, p50/p95/p99",
        "LatencyAnalytics",
        analytics.GROUPED_PARAMS,
    ),
    _analytics("errors", "4xx, 5xx and error rate", "ErrorAnalytics", analytics.GROUPED_PARAMS),
    _analytics(
        "summary", "Totals, active keys and top model", "SummaryAnalytics", analytics.ANALYTICS_PARAMS
    ),
)
