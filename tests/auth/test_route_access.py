"""Every route × every role through the real gateway: the expected auth status and body, exactly.

The routes are the ones the API app serves (`api.routes.ROUTES`) plus the provider routes and a few
unmapped paths; a route added to the app without a route-map row fails here.
"""

from __future__ import annotations

import httpx
import pytest

from ongoingai.api.routes import ROUTES
from ongoingai.auth.authorizer import Decision, Outcome, decide
from ongoingai.auth.guard import FORBIDDEN, NO_PROVIDER_KEY, UNAUTHENTICATED, UNMAPPED
from ongoingai.auth.roles import ROLE_PERMISSIONS
from ongoingai.config import Settings
from tests.auth.conftest import Stack, StackFactory, with_auth
from tests.fakes.upstream import FakeUpstream

AUTH_ERRORS = {UNMAPPED, UNAUTHENTICATED, FORBIDDEN, NO_PROVIDER_KEY, "gateway key verification unavailable"}
ROLES = list(ROLE_PERMISSIONS)
TOKENS = {role: f"tok-{role}-0123456789" for role in ROLES}


def _concrete(path: str) -> str:
    return path.replace("{trace_id}", "t-missing").replace("{key_id}", "k-missing")


ROUTE_CASES = sorted(
    {(m, _concrete(r.path)) for r in ROUTES for m in (r.methods or ("GET", "POST")) if r.path != "/"}
    | {
        ("GET", "/"),
        ("POST", "/openai/v1/chat/completions"),
        ("GET", "/openai/v1/models"),
        ("POST", "/anthropic/v1/messages"),
        ("GET", "/api/internal/debug"),
        ("POST", "/api/health"),
        ("GET", "/api/gateway-keys/k1/rotate"),
        ("HEAD", "/api/traces"),
    }
)


@pytest.fixture
async def stack(
    make_stack: StackFactory, sqlite_settings: Settings, upstream_server: tuple[FakeUpstream, str]
) -> Stack:
    keys = [
        {"id": f"key-{role}", "token": token, "role": role, "org_id": "acme", "workspace_id": "ws"}
        for role, token in TOKENS.items()
    ]
    settings = with_auth(sqlite_settings, upstream_server[1], key_store="database", keys=keys)
    return await make_stack(settings)


def _error_of(response: httpx.Response) -> str | None:
    if not response.content or not response.headers.get("content-type", "").startswith("application/json"):
        return None
    error = response.json().get("error")
    return error if isinstance(error, str) else None


def _provider(path: str) -> str | None:
    return "openai" if path.startswith("/openai") else "anthropic" if path.startswith("/anthropic") else None


@pytest.mark.parametrize(("method", "path"), ROUTE_CASES, ids=[f"{m} {p}" for m, p in ROUTE_CASES])
async def test_every_route_with_every_role(stack: Stack, method: str, path: str) -> None:
    decision = decide(method, path, _provider(path))
    for who in [None, "unknown", *ROLES]:
        token = TOKENS.get(who or "", "tok-nobody-0123456789" if who else None)
        response = await stack.call(method, path, token, json={} if method == "POST" else None)
        error = _error_of(response)
        case = f"{method} {path} as {who}"
        expected = _expected(decision, who)
        if expected is None:
            assert error not in AUTH_ERRORS, (case, response.status_code, error)
        else:
            status, message = expected
            # HEAD answers carry no body: the status alone must match
            assert (response.status_code, error if method != "HEAD" else message) == expected, case


def _expected(decision: Decision, who: str | None) -> tuple[int, str] | None:
    """The auth layer's answer, or None when it must let the request through."""
    if decision.outcome is Outcome.BYPASS:
        return None
    if decision.outcome is Outcome.DENY:
        return 403, UNMAPPED
    if who is None or who == "unknown":
        return 401, UNAUTHENTICATED
    if decision.permission in ROLE_PERMISSIONS[who]:
        return None
    return 403, FORBIDDEN


def test_every_served_api_route_is_in_the_cases() -> None:
    served = {_concrete(r.path) for r in ROUTES}
    assert served <= {path for _, path in ROUTE_CASES}
