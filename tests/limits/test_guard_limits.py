"""Limits inside the auth layer (auth-and-tenancy.md §7 step g, limits.md §2 and §5, issue 8): the 429 and
503 answers, the audit log line and `limit.deny` record, and where limits are never evaluated."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from ongoingai.store.auth_tables import audit_events
from tests.fakes.upstream import FakeUpstream
from tests.limits.conftest import HEADER, SECRETS, TOKEN_A, TOKEN_B, TOKEN_C, Stack, StackFactory, script_chat


async def audit_rows(stack: Stack) -> list[dict[str, object]]:
    await stack.runtime.audit.drain()
    async with stack.store.engine.connect() as conn:
        rows = (await conn.execute(sa.select(audit_events).order_by(audit_events.c.created_at))).mappings()
        return [dict(r) for r in rows]


async def test_rate_limit_answers_429_with_code_retry_after_and_leaves_an_audit_trail(
    make_stack: StackFactory, upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    stack = await make_stack({"per_key": {"requests_per_minute": 1}})
    script_chat(upstream, 2)
    assert (await stack.chat()).status_code == 200
    stack.clock.advance(15)
    with caplog.at_level(logging.WARNING, logger="ongoingai.auth.guard"):
        refused = await stack.chat()

    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/json"
    assert refused.headers["retry-after"] == "45"
    assert refused.headers["x-ongoingai-correlation-id"]
    assert refused.content == (
        b'{"error":"request rate limit exceeded for key","code":"KEY_RATE_LIMIT_EXCEEDED",'
        b'"retry_after_seconds":45}\n'
    )
    assert len(upstream.received) == 1  # not forwarded
    assert len(stack.sink.records) == 1  # and no trace
    (line,) = [r for r in caplog.records if r.getMessage() == "audit gateway auth deny"]
    assert (line.audit_reason, line.limit_code, line.status_code, line.key_id) == (  # type: ignore[attr-defined]
        "usage_limit_exceeded",
        "KEY_RATE_LIMIT_EXCEEDED",
        429,
        "ka",
    )
    (row,) = await audit_rows(stack)
    assert (row["action"], row["outcome"], row["reason"], row["actor_key_id"]) == (
        "limit.deny",
        "denied",
        "KEY_RATE_LIMIT_EXCEEDED",
        "ka",
    )
    assert (row["org_id"], row["workspace_id"]) == ("acme", "ws1")
    details = row["details"]
    assert isinstance(details, dict)
    assert (details["limit_code"], details["retry_after_seconds"], details["status_code"]) == (
        "KEY_RATE_LIMIT_EXCEEDED",
        45,
        429,
    )
    text = repr(row) + " ".join(r.getMessage() + repr(r.__dict__) for r in caplog.records)
    for secret in SECRETS:
        assert secret not in text


async def test_a_daily_token_quota_is_reached_through_traffic(
    make_stack: StackFactory, upstream: FakeUpstream
) -> None:
    stack = await make_stack({"per_workspace": {"max_tokens_per_day": 10}})
    script_chat(upstream, 3)
    assert (await stack.chat(TOKEN_A)).status_code == 200  # 5 tokens
    assert (await stack.chat(TOKEN_B)).status_code == 200  # 10 tokens in ws1: the quota is reached
    refused = await stack.chat(TOKEN_A)
    assert refused.status_code == 429
    assert "retry-after" not in refused.headers
    assert refused.json() == {
        "error": "daily token limit exceeded for workspace",
        "code": "WORKSPACE_DAILY_TOKENS_EXCEEDED",
    }
    assert (await stack.chat(TOKEN_C)).status_code == 200  # ws2 has its own day
    assert len(upstream.received) == 3


async def test_limits_are_not_evaluated_on_api_routes_or_for_refused_requests(
    make_stack: StackFactory, upstream: FakeUpstream
) -> None:
    stack = await make_stack({"per_key": {"requests_per_minute": 1}})
    for _ in range(3):
        assert (await stack.client.get("/api/traces", headers={HEADER: TOKEN_A})).status_code == 200
    assert (await stack.chat("ogk_not_a_key")).status_code == 401
    assert (await stack.chat(TOKEN_A, provider_key=False)).status_code == 403  # no provider credential
    script_chat(upstream)
    # None of the above took the key's one request per minute.
    assert (await stack.chat(TOKEN_A)).status_code == 200
    assert (await stack.chat(TOKEN_A)).status_code == 429
    assert stack.limiter is not None and dict(stack.limiter.rejected) == {"KEY_RATE_LIMIT_EXCEEDED": 1}


async def test_daily_quotas_fail_closed_with_503_until_the_store_was_read(
    make_stack: StackFactory, upstream: FakeUpstream
) -> None:
    stack = await make_stack({"per_key": {"max_cost_usd_per_day": 1.0}}, start=False)
    refused = await stack.chat()
    assert refused.status_code == 503
    assert refused.content == b'{"error":"gateway usage limit check unavailable"}\n'
    (row,) = await audit_rows(stack)
    assert (row["action"], row["reason"]) == ("limit.deny", "usage_limit_check_unavailable")
    assert stack.limiter is not None
    await stack.limiter.start(stack.store.connect)
    script_chat(upstream)
    assert (await stack.chat()).status_code == 200


async def test_diagnostics_report_the_backend_and_refusals(
    make_stack: StackFactory, upstream: FakeUpstream
) -> None:
    stack = await make_stack({"per_key": {"requests_per_minute": 1, "max_concurrent_requests": 4}})
    script_chat(upstream)
    await stack.chat()
    await stack.chat()
    response = await stack.client.get("/api/diagnostics/limits", headers={HEADER: TOKEN_A})
    assert response.status_code == 200
    body = response.json()
    assert body["schema_version"] == "limits-diagnostics.v1"
    limits = body["limits"]
    assert (limits["enabled"], limits["backend"], limits["healthy"], limits["shared"]) == (
        True,
        "memory",
        True,
        False,
    )
    assert limits["rejected_total"] == {"KEY_RATE_LIMIT_EXCEEDED": 1}
    no_token = await stack.client.get("/api/diagnostics/limits")
    assert no_token.status_code == 401


async def test_diagnostics_say_why_no_limiter_runs(make_stack: StackFactory) -> None:
    stack = await make_stack({"backend": "memory"})
    body = (await stack.client.get("/api/diagnostics/limits", headers={HEADER: TOKEN_A})).json()
    assert body["limits"] == {"enabled": False, "backend": "memory", "reason": "no thresholds set"}
