"""`TraceBuilder`: an Exchange becomes the spec's TraceRecord (traces-and-lineage.md §1–2)."""

from __future__ import annotations

import gzip
import hashlib
from datetime import UTC, datetime

import pytest

from ongoingai.auth.identity import Identity
from ongoingai.capture.build import TraceBuilder, credential_of, lineage_of
from ongoingai.capture.exchange import Exchange
from ongoingai.config import Settings
from ongoingai.policy import Redactor
from ongoingai.providers.pricing import PriceTable
from tests.e2e import wire

T0 = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)


def builder(**settings: object) -> TraceBuilder:
    s = Settings(**settings)  # type: ignore[arg-type]
    redactor = Redactor.from_settings(
        s.pii, s.auth.header, capture_bodies=s.tracing.capture_bodies, body_max_size=s.tracing.body_max_size
    )
    return TraceBuilder(
        s, PriceTable.load(s.pricing.overrides), redactor, clock=lambda: T0, new_id=lambda: "a" * 32
    )


def exchange(**kw: object) -> Exchange:
    ex = Exchange(
        provider=str(kw.pop("provider", "openai")),
        method="POST",
        path="/openai/v1/chat/completions",
        request_headers=list(kw.pop("headers", [(b"authorization", b"Bearer sk-test-abcd1234")])),  # type: ignore[arg-type]
        correlation_id="corr-x",
        body_max_size=int(kw.pop("body_max_size", 1 << 20)),  # type: ignore[call-overload]
        started_ns=1_000_000_000,
    )
    ex.set_request_body(bytes(kw.pop("request", b'{"model":"gpt-4o"}')))  # type: ignore[call-overload]
    ex.on_response_start(
        int(kw.pop("status", 200)),  # type: ignore[call-overload]
        list(kw.pop("response_headers", [(b"content-type", b"application/json")])),  # type: ignore[call-overload]
        bool(kw.pop("streaming", False)),
    )
    for chunk in kw.pop("chunks", [wire.CHAT_COMPLETION]):  # type: ignore[attr-defined]
        ex.on_chunk(chunk)
    ex.ended_ns = int(kw.pop("ended_ns", 1_250_700_000))  # type: ignore[call-overload]
    assert not kw
    return ex


def test_non_streaming_record() -> None:
    record = builder().build(exchange())
    assert record.id == "a" * 32
    assert record.timestamp == record.created_at == T0
    assert (record.provider, record.model, record.response_status) == ("openai", "gpt-4o", 200)
    assert (record.input_tokens, record.output_tokens, record.total_tokens) == (19, 10, 29)
    assert record.latency_ms == 250
    assert (record.time_to_first_token_ms, record.time_to_first_token_us) == (0, 0)
    assert record.api_key_hash == hashlib.sha256(b"sk-test-abcd1234").hexdigest()
    assert record.metadata["api_key_last4"] == "1234"
    assert record.request_headers == {"Authorization": ["[REDACTED]"]}
    assert record.metadata["redaction_counts"] == {"header": 1}
    assert record.metadata["redaction_applied"] is True
    assert record.metadata["redaction_mode"] == "off"
    assert record.metadata["lineage_checkpoint_id"] == record.id
    assert record.request_body == record.response_body == ""
    assert (record.org_id, record.workspace_id, record.gateway_key_id) == ("default", "default", None)


def test_streaming_ttft_is_rounded_up_to_ms() -> None:
    ex = exchange(streaming=True, chunks=[b"data: {}\n\n"])
    ex.first_write_ns = ex.started_ns + 1_500_001  # 1500 µs
    record = builder().build(ex)
    assert (record.time_to_first_token_us, record.time_to_first_token_ms) == (1500, 2)
    assert record.metadata["stream_chunks"] == 1


def test_gzip_copy_is_decoded_for_parsing() -> None:
    ex = exchange(
        response_headers=[(b"content-type", b"application/json"), (b"content-encoding", b"gzip")],
        chunks=[gzip.compress(wire.CHAT_COMPLETION)],
    )
    assert builder().build(ex).total_tokens == 29


def test_bodies_stored_raw_only_when_capture_on_and_mode_off() -> None:
    record = builder(tracing={"capture_bodies": True}, pii={"mode": "off"}).build(exchange())
    assert record.request_body == '{"model":"gpt-4o"}'
    assert record.response_body == wire.CHAT_COMPLETION.decode()


def test_identity_fills_tenant_and_metadata() -> None:
    ex = exchange()
    ex.identity = Identity(key_id="gk_1", org_id="acme", workspace_id="ml", team="core", role="developer")
    record = builder().build(ex)
    assert (record.org_id, record.workspace_id, record.gateway_key_id) == ("acme", "ml", "gk_1")
    assert record.metadata["team"] == "core"


def test_configured_gateway_header_is_always_redacted() -> None:
    ex = exchange(headers=[(b"x-team-key", b"gwk_secret"), (b"cookie", b"a=b"), (b"x-plain", b"ok")])
    record = builder(auth={"header": "X-Team-Key"}).build(ex)
    assert record.request_headers == {
        "X-Team-Key": ["[REDACTED]"],
        "Cookie": ["[REDACTED]"],
        "X-Plain": ["ok"],
    }


def test_unknown_model_is_unpriced_not_silent_zero() -> None:
    record = builder().build(
        exchange(request=b'{"model":"my-private-model"}', chunks=[b'{"usage":{"prompt_tokens":5}}'])
    )
    assert record.model == "my-private-model"
    assert record.estimated_cost_usd == 0
    assert record.metadata["cost_status"] == "unpriced"


@pytest.mark.parametrize(
    ("headers", "credential"),
    [
        ([(b"authorization", b"Bearer sk-1")], "sk-1"),
        ([(b"authorization", b"bearer  sk-2")], "sk-2"),
        ([(b"authorization", b"Basic abc")], "Basic abc"),
        ([(b"x-api-key", b"sk-ant-3")], "sk-ant-3"),
        ([(b"x-api-key", b"k"), (b"authorization", b"Bearer wins")], "wins"),
        ([], ""),
    ],
    ids=["bearer", "bearer-case", "other-scheme", "x-api-key", "authorization-wins", "none"],
)
def test_credential_of(headers: list[tuple[bytes, bytes]], credential: str) -> None:
    assert credential_of(headers) == credential


def test_lineage_seq_must_be_a_non_negative_integer() -> None:
    assert lineage_of([(b"x-ongoingai-checkpoint-seq", b"-1")]) == {}
    assert lineage_of([(b"x-ongoingai-checkpoint-seq", b"abc")]) == {}
    assert lineage_of([(b"x-ongoingai-checkpoint-seq", b" 7 ")]) == {"lineage_checkpoint_seq": 7}
