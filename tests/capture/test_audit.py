"""`pii.*` audit records (DEVIATIONS.md "Audit records", issue 6): one per request whose policy redacted,
blocked, denied on doubt or observed, with counts, classes and paths and never a matched value."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from ongoingai.auth.identity import Identity
from ongoingai.capture.audit import PiiAudit
from ongoingai.capture.build import TraceBuilder
from ongoingai.capture.exchange import Exchange
from ongoingai.config import Settings
from ongoingai.policy import Redactor
from ongoingai.providers.pricing import PriceTable
from ongoingai.proxy.guard import PolicyDeniedError, RequestGuard
from ongoingai.traces import TraceRecord
from tests.e2e import wire

EMAIL = "alice.smith@example.com"
LEAKED_KEY = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"
REPLY_PHONE = "+44 20 7946 0958"
PROVIDER_KEY = "sk-proj-unitSECRETprovider0123456789abcdef"
SENSITIVE = (EMAIL, LEAKED_KEY, REPLY_PHONE, PROVIDER_KEY, "7946 0958", "alice.smith")
DIRTY = orjson.dumps(
    {"model": "gpt-4o", "messages": [{"role": "user", "content": f"mail {EMAIL} key {LEAKED_KEY}"}]}
)
CLEAN = b'{"model":"gpt-4o","max_tokens":5,"messages":[{"role":"user","content":"hello"}]}'
DIRTY_REPLY = wire.CHAT_COMPLETION.replace(b"How can I help?", f"Call {REPLY_PHONE}.".encode())


def run(
    body: bytes,
    *,
    reply: bytes = wire.CHAT_COMPLETION,
    content_type: bytes = b"application/json",
    identity: Identity | None = None,
    **settings: Any,
) -> tuple[TraceRecord, PiiAudit | None]:
    """One exchange through the request guard and the trace builder, as the app runs them."""
    s = Settings(**settings)
    redactor = Redactor.from_settings(
        s.pii, s.auth.header, capture_bodies=s.tracing.capture_bodies, body_max_size=s.tracing.body_max_size
    )
    ex = Exchange(
        provider="openai",
        method="POST",
        path="/openai/v1/chat/completions",
        request_headers=[
            (b"authorization", f"Bearer {PROVIDER_KEY}".encode()),
            (b"content-type", content_type),
        ],
        correlation_id="corr-1",
        body_max_size=1 << 20,
        identity=identity,
    )
    ex.set_request_body(body)
    try:
        RequestGuard(redactor).check(ex, body)
    except PolicyDeniedError as exc:
        ex.on_response_start(exc.status, [], streaming=False)
    else:
        ex.on_response_start(200, [(b"content-type", b"application/json")], streaming=False)
        ex.on_chunk(reply)
    ex.finish()
    builder = TraceBuilder(s, PriceTable.load(s.pricing.overrides), redactor, new_id=lambda: "t" * 32)
    return builder.build_with_audit(ex)


def assert_no_sensitive_value(audit: PiiAudit) -> None:
    dumped = json.dumps([audit.action, audit.reason, audit.details])
    for value in SENSITIVE:
        assert value not in dumped


def test_storage_redaction_is_recorded_as_pii_redact_of_the_storage_stage() -> None:
    record, audit = run(DIRTY, reply=DIRTY_REPLY, tracing={"capture_bodies": True})
    assert audit is not None
    assert (audit.action, audit.outcome, audit.reason) == ("pii.redact", "redacted", "pii_detected")
    assert audit.details == {
        "mode": "redact_storage",
        "policy_id": "default/v1",
        "scope": "global",
        "provider": "openai",
        "method": "POST",
        "path": "/openai/v1/chat/completions",
        "stage": "storage",
        "counts": {"email": 1, "token_like": 1, "phone": 1},
        "paths": ["$.messages[0].content", "$.choices[0].message.content"],
    }
    assert (audit.org_id, audit.workspace_id, audit.actor_key_id) == ("default", "default", "")
    assert audit.correlation_id == "corr-1"
    assert record.metadata["redaction_counts"] == {"header": 1, "email": 1, "phone": 1, "token_like": 1}
    assert_no_sensitive_value(audit)


def test_a_storage_drop_is_recorded_with_its_failure_semantics() -> None:
    _, audit = run(b"\xff\xfe not utf-8", content_type=b"text/plain", tracing={"capture_bodies": True})
    assert audit is not None
    assert (audit.action, audit.outcome, audit.reason) == (
        "pii.redact",
        "redacted",
        "policy_evaluation_failed",
    )
    assert audit.details["storage_drop"] is True
    assert audit.details["failure_semantics"] == "storage_drop_continue_proxy"
    assert audit.details["error"] == "body is not valid utf-8"


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param({"tracing": {"capture_bodies": True}}, id="redact_storage-clean"),
        pytest.param({"pii": {"mode": "redact_storage"}}, id="redact_storage-bodies-not-captured"),
        pytest.param({"tracing": {"capture_bodies": True}, "pii": {"mode": "off"}}, id="off"),
        pytest.param({"pii": {"mode": "block"}}, id="block-clean"),
        pytest.param({"pii": {"mode": "redact_upstream"}}, id="redact_upstream-clean"),
        pytest.param({"tracing": {"capture_bodies": True}, "pii": {"mode": "observe"}}, id="observe-clean"),
    ],
)
def test_nothing_redacted_refused_or_observed_writes_no_record(settings: dict[str, Any]) -> None:
    body = DIRTY if settings.get("pii", {}).get("mode") in ("off", "redact_storage") else CLEAN
    record, audit = run(body, **settings)
    assert audit is None
    # The provider credential header is always redacted in storage: never a decision worth a record.
    assert record.request_headers["Authorization"] == ["[REDACTED]"]


def test_redact_upstream_records_the_request_stage() -> None:
    _, audit = run(DIRTY, pii={"mode": "redact_upstream"})
    assert audit is not None
    assert (audit.action, audit.outcome, audit.reason) == ("pii.redact", "redacted", "pii_detected")
    assert audit.details["stage"] == "request"
    assert audit.details["counts"] == {"email": 1, "token_like": 1}
    assert audit.details["paths"] == ["$.messages[0].content"]
    assert "status_code" not in audit.details
    assert_no_sensitive_value(audit)


def test_redact_upstream_with_a_clean_request_still_records_a_redacted_stored_reply() -> None:
    _, audit = run(
        CLEAN, reply=DIRTY_REPLY, tracing={"capture_bodies": True}, pii={"mode": "redact_upstream"}
    )
    assert audit is not None
    assert (audit.action, audit.details["stage"], audit.details["counts"]) == (
        "pii.redact",
        "storage",
        {"phone": 1},
    )


def test_block_records_a_denial_with_its_status() -> None:
    record, audit = run(DIRTY, tracing={"capture_bodies": True}, pii={"mode": "block"})
    assert record.response_status == 403
    assert audit is not None
    assert (audit.action, audit.outcome, audit.reason) == ("pii.block", "denied", "pii_detected")
    assert audit.details["status_code"] == 403
    assert audit.details["counts"] == {"email": 1, "token_like": 1}
    assert_no_sensitive_value(audit)


@pytest.mark.parametrize("mode", ["block", "redact_upstream"])
def test_uncertainty_records_deny_uncertain_with_the_fixed_reason(mode: str) -> None:
    record, audit = run(b"\x00\x01", content_type=b"application/octet-stream", pii={"mode": mode})
    assert record.response_status == 503
    assert audit is not None
    assert (audit.action, audit.outcome, audit.reason) == (
        "pii.deny_uncertain",
        "denied",
        "policy_evaluation_failed",
    )
    assert audit.details["error"] == "content type is not json or text"
    assert audit.details["status_code"] == 503
    assert "counts" not in audit.details


def test_observe_records_what_block_and_redact_upstream_would_have_done() -> None:
    record, audit = run(DIRTY, tracing={"capture_bodies": True}, pii={"mode": "observe"})
    assert record.response_status == 200
    assert audit is not None
    assert (audit.action, audit.outcome, audit.reason) == ("pii.observe", "observed", "pii_detected")
    assert audit.details["would"] == {"block": "pii.block", "redact_upstream": "pii.redact"}
    assert audit.details["counts"] == record.metadata["redaction_observed_counts"]
    assert audit.details["paths"] == record.metadata["redaction_observed_paths"]
    assert_no_sensitive_value(audit)


def test_observe_records_doubt_as_what_the_fail_closed_modes_would_deny() -> None:
    record, audit = run(b"{not json", pii={"mode": "observe"})
    assert record.response_status == 200
    assert audit is not None
    assert (audit.action, audit.outcome, audit.reason) == (
        "pii.observe",
        "observed",
        "policy_evaluation_failed",
    )
    assert audit.details["would"] == {"block": "pii.deny_uncertain", "redact_upstream": "pii.deny_uncertain"}
    assert audit.details["error"] == "body is not valid json"


def test_a_scoped_policy_names_its_scope_and_the_caller() -> None:
    pii = {
        "mode": "redact_storage",
        "policy_id": "global/v1",
        "scopes": [
            {"match": {"provider": "anthropic"}, "mode": "off"},
            {"match": {"org_id": "acme", "workspace_id": "ws1"}, "mode": "block", "policy_id": "acme/strict"},
        ],
    }
    identity = Identity(key_id="dev-1", org_id="acme", workspace_id="ws1", role="developer")
    _, audit = run(DIRTY, identity=identity, tracing={"capture_bodies": True}, pii=pii)
    assert audit is not None
    assert audit.action == "pii.block"
    assert (audit.org_id, audit.workspace_id, audit.actor_key_id) == ("acme", "ws1", "dev-1")
    assert (audit.details["mode"], audit.details["policy_id"], audit.details["scope"]) == (
        "block",
        "acme/strict",
        "pii.scopes[1]",
    )
