"""Regression: provider keys and gateway tokens never reach captured records or logs (issue 2)."""

from __future__ import annotations

import dataclasses
import logging

import httpx
import openai
import orjson
import pytest

from tests.e2e import wire
from tests.e2e.conftest import ANTHROPIC_KEY, PROVIDER_KEY, GatewayFactory
from tests.fakes.sdk import anthropic_client, openai_client
from tests.fakes.servers import free_port
from tests.fakes.upstream import FakeUpstream, Reply

pytestmark = pytest.mark.e2e

GATEWAY_TOKEN = "ogk_e2eSECRETgatewaytoken_abcdefghijklmnop"
SECRETS = (PROVIDER_KEY, ANTHROPIC_KEY, GATEWAY_TOKEN)


def everything_written(records: list[object], caplog: pytest.LogCaptureFixture) -> str:
    dumped = [orjson.dumps(dataclasses.asdict(r), default=str).decode() for r in records]  # type: ignore[call-overload]
    logged = [f"{r.getMessage()} {r.__dict__}" for r in caplog.records]
    return "\n".join(dumped + logged)


def test_no_secret_in_records_or_logs(
    start_gateway: GatewayFactory, fake: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    gw = start_gateway(tracing__capture_bodies=True, pii__mode="off")
    dead = start_gateway(providers__openai__upstream=f"http://127.0.0.1:{free_port()}")
    fake.script("/v1/chat/completions", Reply.json(wire.CHAT_COMPLETION))
    fake.script("/v1/chat/completions", Reply.sse(wire.chat_stream(["x"]), reset_after=1))
    fake.script("/v1/messages", Reply.json(wire.ANTHROPIC_MESSAGE))
    headers = {"X-OngoingAI-Gateway-Key": GATEWAY_TOKEN}
    oai = openai_client(gw.openai_base, PROVIDER_KEY, default_headers=headers)
    oai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.APIError):
        for _ in oai.chat.completions.create(model="gpt-4o", messages=[], stream=True):
            pass
    anthropic_client(gw.anthropic_base, ANTHROPIC_KEY, default_headers=headers).messages.create(
        model="claude-sonnet-4-6", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
    )
    response = httpx.post(
        dead.url + "/openai/v1/chat/completions",
        json={"model": "gpt-4o"},
        headers={"authorization": f"Bearer {PROVIDER_KEY}", **headers},
    )
    assert response.status_code == 502
    assert not any(s in response.text for s in SECRETS)

    records = gw.sink.wait_for(3) + dead.sink.wait_for(1)
    assert all(r.api_key_hash for r in records)
    written = everything_written(list(records), caplog)
    assert "proxy request failed" in written  # the scan saw the failure logs too
    for secret in SECRETS:
        assert secret not in written
        assert secret[8:24] not in written  # no fragment beyond the documented last 4
    for name, value in fake.received[0].headers:
        assert name.lower() != "x-ongoingai-gateway-key", value
