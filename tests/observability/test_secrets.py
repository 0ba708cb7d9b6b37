"""No provider key and no gateway token in exported spans or log lines, on every capture path (issue 7)."""

from __future__ import annotations

import contextlib

import httpx
import orjson

from tests.e2e import wire
from tests.fakes.servers import free_port
from tests.fakes.upstream import FakeUpstream, Reply
from tests.observability.conftest import GATEWAY_TOKEN, PROVIDER_KEY, ObservedFactory, ObservedGateway

CHAT = "/v1/chat/completions"
SECRETS = (PROVIDER_KEY, GATEWAY_TOKEN, PROVIDER_KEY[-20:])


def send(gw: ObservedGateway, path: str = "/openai/v1/chat/completions", **extra: str) -> httpx.Response:
    body = orjson.dumps(
        {"model": "gpt-4o", "messages": [{"role": "user", "content": f"my key is {PROVIDER_KEY}"}]}
    )
    return httpx.post(
        f"{gw.url}{path}?key={PROVIDER_KEY}",
        content=body,
        headers={
            "authorization": f"Bearer {PROVIDER_KEY}",
            "x-api-key": PROVIDER_KEY,
            "x-ongoingai-gateway-key": GATEWAY_TOKEN,
            "content-type": "application/json",
            **extra,
        },
        timeout=10,
    )


def exported_text(gw: ObservedGateway, requests: int) -> str:
    spans = gw.wait_for_server_spans(requests)
    return "\n".join(span.to_json() for span in spans) + "\n" + gw.logs.getvalue()


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_no_secret_in_spans_or_logs_across_capture_paths(
    start_observed: ObservedFactory, fake: FakeUpstream
) -> None:
    gw = start_observed(tracing__capture_bodies=True)
    fake.script(CHAT, Reply.json(wire.CHAT_COMPLETION))
    fake.script(CHAT, Reply.sse(wire.chat_stream(["a", "b"])))
    fake.script(CHAT, Reply.json(b'{"error":{"message":"invalid key"}}', 401))
    fake.script(CHAT, Reply.sse(wire.chat_stream(["x", "y", "z"]), reset_after=1))
    assert send(gw).status_code == 200
    assert send(gw).status_code == 200
    assert send(gw).status_code == 401
    with contextlib.suppress(httpx.HTTPError):
        send(gw)  # the aborted stream: the client sees a broken response
    # A secret in the path itself reaches `url.path` and the access log, and must be scrubbed there.
    assert send(gw, path=f"/openai/v1/files/{PROVIDER_KEY}").status_code == 404
    assert send(gw, path=f"/api/traces/{PROVIDER_KEY}").status_code == 404
    gw.sink.wait_for(5)
    assert_clean(exported_text(gw, 6))
    assert "[CREDENTIAL_REDACTED]" in gw.logs.getvalue()


def test_no_secret_on_failure_and_policy_paths(start_observed: ObservedFactory, fake: FakeUpstream) -> None:
    dead = start_observed(providers__openai__upstream=f"http://127.0.0.1:{free_port()}")
    assert send(dead).status_code == 502
    assert_clean(exported_text(dead, 1))
    blocking = start_observed(pii__mode="block")
    assert send(blocking).status_code == 403
    assert_clean(exported_text(blocking, 1))
