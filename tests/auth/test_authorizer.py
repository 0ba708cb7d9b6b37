"""The deny-by-default route map (auth-and-tenancy.md §6 with the DEVIATIONS.md rows)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ongoingai.api.routes import ROUTES
from ongoingai.auth.authorizer import Outcome, decide
from ongoingai.auth.roles import ROLE_PERMISSIONS, ROLES, permissions_for

A, K, D, AU, P = "analytics:read", "keys:manage", "diagnostics", "audit:read", "proxy:write"

# (method, path, provider) → outcome, permission
TABLE: list[tuple[str, str, str | None, Outcome, str]] = [
    ("OPTIONS", "/api/traces", None, Outcome.BYPASS, ""),
    ("OPTIONS", "/api/anything/unmapped", None, Outcome.BYPASS, ""),
    ("OPTIONS", "/openai/v1/chat/completions", "openai", Outcome.BYPASS, ""),
    ("POST", "/openai/v1/chat/completions", "openai", Outcome.REQUIRE, P),
    ("GET", "/openai/v1/models", "openai", Outcome.REQUIRE, P),
    ("DELETE", "/anthropic/v1/messages", "anthropic", Outcome.REQUIRE, P),
    ("GET", "/api/health", None, Outcome.BYPASS, ""),
    ("HEAD", "/api/health", None, Outcome.BYPASS, ""),
    ("POST", "/api/health", None, Outcome.DENY, ""),
    ("GET", "/api/ready", None, Outcome.BYPASS, ""),
    ("GET", "/api/openapi.json", None, Outcome.BYPASS, ""),
    ("POST", "/api/openapi.json", None, Outcome.DENY, ""),
    ("GET", "/api/traces", None, Outcome.REQUIRE, A),
    ("HEAD", "/api/traces", None, Outcome.REQUIRE, A),
    ("GET", "/api/traces/", None, Outcome.REQUIRE, A),
    ("GET", "/api/traces/abc", None, Outcome.REQUIRE, A),
    ("GET", "/api/traces/abc/", None, Outcome.REQUIRE, A),
    ("GET", "/api/traces/abc/replay", None, Outcome.REQUIRE, A),
    ("POST", "/api/traces/abc/fork", None, Outcome.REQUIRE, A),
    ("GET", "/api/traces/abc/fork", None, Outcome.DENY, ""),
    ("POST", "/api/traces/abc/replay", None, Outcome.DENY, ""),
    ("GET", "/api/traces/abc/other", None, Outcome.DENY, ""),
    ("GET", "/api/traces/a/b/c", None, Outcome.DENY, ""),
    ("POST", "/api/traces", None, Outcome.DENY, ""),
    ("DELETE", "/api/traces/abc", None, Outcome.DENY, ""),
    ("GET", "/api/tracesX", None, Outcome.DENY, ""),
    *[
        ("GET", f"/api/analytics/{name}", None, Outcome.REQUIRE, A)
        for name in ("usage", "cost", "models", "keys", "summary", "latency", "errors")
    ],
    ("POST", "/api/analytics/usage", None, Outcome.DENY, ""),
    ("GET", "/api/analytics/other", None, Outcome.DENY, ""),
    ("GET", "/api/diagnostics/trace-pipeline", None, Outcome.REQUIRE, A),
    ("GET", "/api/diagnostics/limits", None, Outcome.REQUIRE, A),  # issue 8
    ("GET", "/api/gateway-keys", None, Outcome.REQUIRE, K),
    ("POST", "/api/gateway-keys", None, Outcome.REQUIRE, K),
    ("POST", "/api/gateway-keys/", None, Outcome.REQUIRE, K),
    ("HEAD", "/api/gateway-keys", None, Outcome.DENY, ""),
    ("DELETE", "/api/gateway-keys", None, Outcome.DENY, ""),
    ("DELETE", "/api/gateway-keys/k1", None, Outcome.REQUIRE, K),
    ("GET", "/api/gateway-keys/k1", None, Outcome.DENY, ""),
    ("POST", "/api/gateway-keys/k1/rotate", None, Outcome.REQUIRE, K),
    ("GET", "/api/gateway-keys/k1/rotate", None, Outcome.DENY, ""),
    ("POST", "/api/gateway-keys/k1/other", None, Outcome.DENY, ""),
    ("GET", "/api/audit", None, Outcome.REQUIRE, AU),
    ("POST", "/api/audit", None, Outcome.DENY, ""),
    ("GET", "/api/internal/debug", None, Outcome.DENY, ""),
    ("GET", "/api", None, Outcome.DENY, ""),
    ("GET", "/api/", None, Outcome.DENY, ""),
    ("GET", "/", None, Outcome.BYPASS, ""),
    ("POST", "/", None, Outcome.BYPASS, ""),
    ("GET", "/metrics", None, Outcome.BYPASS, ""),
    ("GET", "/apiary", None, Outcome.BYPASS, ""),
]


@pytest.mark.parametrize(
    ("method", "path", "provider", "outcome", "permission"),
    TABLE,
    ids=[f"{m} {p}" for m, p, *_ in TABLE],
)
def test_the_route_map(
    method: str, path: str, provider: str | None, outcome: Outcome, permission: str
) -> None:
    decision = decide(method, path, provider)

    assert (decision.outcome, decision.permission) == (outcome, permission)
    if outcome is Outcome.DENY:
        assert (decision.resource, decision.action, decision.scope) == ("api", "", "workspace")
    if provider is not None and outcome is Outcome.REQUIRE:
        assert (decision.resource, decision.action, decision.provider) == ("proxy", "forward", provider)


@pytest.mark.parametrize(
    ("path", "method"),
    [(r.path, m) for r in ROUTES for m in (r.methods or ("GET",)) if r.path.startswith("/api")],
)
def test_every_api_route_the_app_serves_is_mapped(path: str, method: str) -> None:
    concrete = path.replace("{trace_id}", "t1").replace("{key_id}", "k1")

    assert decide(method, concrete).outcome is not Outcome.DENY


ANALYTICS_NAMES = ("usage", "cost", "models", "keys", "summary", "latency", "errors")
_SEGMENT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=8)
_ROUTES = st.one_of(
    st.tuples(st.sampled_from(["GET", "HEAD", "POST", "DELETE", "PUT"]), st.just("/api/traces")),
    st.tuples(st.sampled_from(["GET", "HEAD"]), _SEGMENT.map(lambda s: f"/api/traces/{s}")),
    st.tuples(st.sampled_from(["GET", "POST"]), _SEGMENT.map(lambda s: f"/api/traces/{s}/replay")),
    st.tuples(st.sampled_from(["POST", "GET"]), _SEGMENT.map(lambda s: f"/api/traces/{s}/fork")),
    st.tuples(st.sampled_from(["GET", "POST", "DELETE"]), st.just("/api/gateway-keys")),
    st.tuples(st.sampled_from(["DELETE", "GET"]), _SEGMENT.map(lambda s: f"/api/gateway-keys/{s}")),
    st.tuples(st.sampled_from(["POST", "GET"]), _SEGMENT.map(lambda s: f"/api/gateway-keys/{s}/rotate")),
    st.tuples(
        st.sampled_from(["GET", "POST"]),
        st.sampled_from(["usage", "cost", "models", "keys", "summary", "latency", "errors"]).map(
            lambda s: f"/api/analytics/{s}"
        ),
    ),
    st.tuples(st.sampled_from(["GET", "POST"]), st.just("/api/audit")),
    st.tuples(st.sampled_from(["GET", "POST"]), st.just("/api/diagnostics/trace-pipeline")),
    st.tuples(st.sampled_from(["GET", "POST"]), st.just("/api/diagnostics/limits")),
    st.tuples(st.sampled_from(["GET", "POST"]), _SEGMENT.map(lambda s: f"/api/{s}/{s}")),
    st.tuples(
        st.sampled_from(["GET", "HEAD"]),
        st.sampled_from(["audit", "analytics", "diagnostics", "traces", "gateway-keys"]).map(
            lambda s: f"/api/{s}/x/y/z"
        ),
    ),
)


def _expected_permission(method: str, path: str) -> str | None:
    """The permission matrix written out independently of the implementation; None = denied."""
    parts = path.strip("/").split("/")[1:]
    read = method in ("GET", "HEAD")
    if parts[0] == "traces":
        if len(parts) <= 2 or (len(parts) == 3 and parts[2] == "replay"):
            return "analytics:read" if read else None
        return "analytics:read" if len(parts) == 3 and parts[2] == "fork" and method == "POST" else None
    if parts[0] == "gateway-keys":
        ok = (len(parts) == 1 and method in ("GET", "POST")) or (len(parts) == 2 and method == "DELETE")
        ok = ok or (len(parts) == 3 and parts[2] == "rotate" and method == "POST")
        return "keys:manage" if ok else None
    if parts[0] == "analytics" and len(parts) == 2 and parts[1] in ANALYTICS_NAMES:
        return "analytics:read" if read else None
    if parts in (["diagnostics", "trace-pipeline"], ["diagnostics", "limits"]):
        return "analytics:read" if read else None
    if parts == ["audit"]:
        return "audit:read" if read else None
    return None


@given(role=st.sampled_from([*ROLES, "", "unknown"]), route=_ROUTES)
def test_for_any_role_and_route_the_decision_equals_the_permission_matrix(
    role: str, route: tuple[str, str]
) -> None:
    method, path = route
    decision = decide(method, path)
    granted = permissions_for(role)
    expected = _expected_permission(method, path)

    allowed = decision.outcome is Outcome.REQUIRE and decision.permission in granted
    assert allowed == (expected is not None and expected in ROLE_PERMISSIONS.get(role, frozenset()))
