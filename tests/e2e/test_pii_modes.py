"""PII modes on the wire (privacy-and-policy.md §3, DEVIATIONS "observe"): what the provider receives,
what the client sees, and what the stored trace keeps."""

from __future__ import annotations

import httpx
import orjson
import pytest

from tests.e2e import wire
from tests.e2e.conftest import PROVIDER_KEY, GatewayFactory
from tests.fakes.upstream import FakeUpstream, Reply

pytestmark = pytest.mark.e2e

CHAT = "/v1/chat/completions"
EMAIL = "alice.smith@example.com"
LEAKED_KEY = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"
BODY = orjson.dumps(
    {"model": "gpt-4o", "messages": [{"role": "user", "content": f"mail {EMAIL} my key {LEAKED_KEY}"}]}
)


def post(url: str, body: bytes = BODY, content_type: str = "application/json") -> httpx.Response:
    return httpx.post(
        url + "/openai/v1/chat/completions",
        content=body,
        headers={"authorization": f"Bearer {PROVIDER_KEY}", "content-type": content_type},
    )


def test_redact_storage_forwards_raw_and_stores_redacted(
    start_gateway: GatewayFactory, fake: FakeUpstream
) -> None:
    gw = start_gateway(tracing__capture_bodies=True)
    fake.script(CHAT, Reply.json(wire.CHAT_COMPLETION))
    assert post(gw.url).status_code == 200
    assert fake.received[0].body == BODY
    (trace,) = gw.sink.wait_for(1)
    assert trace.metadata["redaction_mode"] == "redact_storage"
    assert EMAIL not in trace.request_body and LEAKED_KEY not in trace.request_body
    assert "[EMAIL_REDACTED:" in trace.request_body
    assert "[TOKEN_REDACTED:" in trace.request_body
    assert trace.metadata["redaction_counts"]["email"] == 1
    assert trace.metadata["redaction_applied"] is True
    assert trace.response_body == wire.CHAT_COMPLETION.decode()


def test_redact_upstream_sends_the_redacted_body(start_gateway: GatewayFactory, fake: FakeUpstream) -> None:
    gw = start_gateway(tracing__capture_bodies=True, pii__mode="redact_upstream")
    fake.script(CHAT, Reply.json(wire.CHAT_COMPLETION))
    assert post(gw.url).status_code == 200
    received = fake.received[0]
    assert EMAIL.encode() not in received.body and LEAKED_KEY.encode() not in received.body
    assert received.header("content-length") == str(len(received.body))
    assert orjson.loads(received.body)["model"] == "gpt-4o"
    (trace,) = gw.sink.wait_for(1)
    assert trace.metadata["redaction_mode"] == "redact_upstream"


def test_block_mode_rejects_with_403_and_a_trace(start_gateway: GatewayFactory, fake: FakeUpstream) -> None:
    gw = start_gateway(pii__mode="block")
    response = post(gw.url)
    assert response.status_code == 403
    assert response.text == "request blocked by pii policy\n"
    assert response.headers["x-ongoingai-correlation-id"]
    assert fake.received == []
    (trace,) = gw.sink.wait_for(1)
    assert trace.response_status == 403
    assert trace.metadata["redaction_mode"] == "block"


def test_block_mode_allows_clean_bodies(start_gateway: GatewayFactory, fake: FakeUpstream) -> None:
    gw = start_gateway(pii__mode="block")
    fake.script(CHAT, Reply.json(wire.CHAT_COMPLETION))
    clean = b'{"model":"gpt-4o","max_tokens":5,"messages":[{"role":"user","content":"hello"}]}'
    assert post(gw.url, clean).status_code == 200
    assert fake.received[0].body == clean


def test_uncertainty_fails_closed_with_503(start_gateway: GatewayFactory, fake: FakeUpstream) -> None:
    gw = start_gateway(pii__mode="block")
    response = post(gw.url, b"\x00\x01binary", content_type="application/octet-stream")
    assert response.status_code == 503
    assert response.text == "request denied by pii guardrail policy uncertainty\n"
    assert fake.received == []
    (trace,) = gw.sink.wait_for(1)
    assert trace.response_status == 503


def test_observe_never_changes_traffic_and_records_what_it_saw(
    start_gateway: GatewayFactory, fake: FakeUpstream
) -> None:
    gw = start_gateway(tracing__capture_bodies=True, pii__mode="observe")
    fake.script(CHAT, Reply.json(wire.CHAT_COMPLETION))
    assert post(gw.url).status_code == 200
    assert fake.received[0].body == BODY
    (trace,) = gw.sink.wait_for(1)
    assert trace.metadata["redaction_observed_counts"]["email"] == 1
    assert trace.metadata["redaction_observed_counts"]["token_like"] == 1
    assert EMAIL not in trace.request_body  # storage is protected as in redact_storage
