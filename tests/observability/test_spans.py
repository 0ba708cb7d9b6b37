"""The span tree of observability.md §2 for real requests through the gateway (issue 7)."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
from opentelemetry.trace import SpanKind, StatusCode

from tests.e2e import wire
from tests.fakes.servers import free_port
from tests.fakes.upstream import FakeUpstream, Reply
from tests.observability.conftest import GATEWAY_TOKEN, PROVIDER_KEY, ObservedFactory, by_name, parent_of

CHAT = "/v1/chat/completions"
CLIENT_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_PARENT_ID = "00f067aa0ba902b7"


def post(url: str, body: bytes | None = None, **headers: Any) -> httpx.Response:
    return httpx.post(
        url + "/openai/v1/chat/completions",
        content=body
        or orjson.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}),
        headers={"authorization": f"Bearer {PROVIDER_KEY}", "content-type": "application/json", **headers},
        timeout=10,
    )


def assert_tree(spans: list[ReadableSpan]) -> dict[str, ReadableSpan]:
    """server → gateway.auth → gateway.route → {gateway.policy?, proxy …, gateway.trace.enqueue}."""
    server = by_name(spans, "POST /openai/*")
    auth = by_name(spans, "gateway.auth")
    route = by_name(spans, "gateway.route")
    enqueue = by_name(spans, "gateway.trace.enqueue")
    assert server.kind is SpanKind.SERVER
    assert parent_of(auth, spans) is server
    assert parent_of(route, spans) is auth
    assert parent_of(enqueue, spans) is route
    trace_ids = {s.context.trace_id for s in (server, auth, route, enqueue) if s.context is not None}
    assert len(trace_ids) == 1
    return {"server": server, "auth": auth, "route": route, "enqueue": enqueue}


def test_proxied_request_has_the_spec_span_tree(start_observed: ObservedFactory, fake: FakeUpstream) -> None:
    gw = start_observed()
    fake.script(CHAT, Reply.json(wire.CHAT_COMPLETION))
    response = post(gw.url)
    assert response.status_code == 200
    spans = gw.wait_for_server_spans()
    tree = assert_tree(spans)
    client = by_name(spans, "proxy POST /openai/*")
    assert client.kind is SpanKind.CLIENT
    assert parent_of(client, spans) is tree["route"]
    assert client.attributes is not None
    assert client.attributes["http.request.method"] == "POST"
    assert client.attributes["http.response.status_code"] == 200
    assert str(client.attributes["url.full"]).endswith("/v1/chat/completions")

    server = tree["server"]
    assert server.attributes is not None
    assert server.attributes["http.request.method"] == "POST"
    assert server.attributes["http.route"] == "/openai/*"
    assert server.attributes["http.response.status_code"] == 200
    assert server.status.status_code is StatusCode.UNSET
    correlation_id = response.headers["x-ongoingai-correlation-id"]
    assert server.attributes["gateway.correlation_id"] == correlation_id

    auth = tree["auth"]
    assert auth.attributes is not None
    assert auth.attributes["gateway.auth.result"] == "allow"
    assert auth.attributes["gateway.correlation_id"] == correlation_id
    assert auth.attributes["gateway.provider"] == "openai"
    assert auth.attributes["gateway.model"] == "unknown"
    assert auth.attributes["gateway.org_id"] == "default"
    assert auth.attributes["gateway.route"] == "/openai/*"

    route = tree["route"]
    assert route.attributes is not None
    assert route.attributes["gateway.route.provider"] == "openai"
    assert route.attributes["gateway.route.prefix"] == "/openai"

    enqueue = tree["enqueue"]
    assert enqueue.attributes is not None
    assert enqueue.attributes["gateway.trace.enqueue.result"] == "accepted"
    assert enqueue.attributes["gateway.model"] == "gpt-4o-mini"  # the price-table family of the model


def test_no_span_records_headers(start_observed: ObservedFactory, fake: FakeUpstream) -> None:
    gw = start_observed()
    fake.script(CHAT, Reply.json(wire.CHAT_COMPLETION))
    post(gw.url, None, **{"x-custom": "visible-value-123"})
    for span in gw.wait_for_server_spans():
        for key, value in (span.attributes or {}).items():
            assert "header" not in key
            assert "visible-value-123" not in str(value)


def test_streaming_request_has_the_same_tree(start_observed: ObservedFactory, fake: FakeUpstream) -> None:
    gw = start_observed()
    fake.script(CHAT, Reply.sse(wire.chat_stream(["Hel", "lo"])))
    response = post(gw.url)
    assert response.status_code == 200
    assert "data:" in response.text
    spans = gw.wait_for_server_spans()
    tree = assert_tree(spans)
    client = by_name(spans, "proxy POST /openai/*")
    assert parent_of(client, spans) is tree["route"]
    (trace,) = gw.sink.wait_for(1)
    assert trace.metadata["streaming"] is True


def test_stored_trace_names_its_otel_trace(start_observed: ObservedFactory, fake: FakeUpstream) -> None:
    gw = start_observed()
    fake.script(CHAT, Reply.json(wire.CHAT_COMPLETION))
    post(gw.url)
    (trace,) = gw.sink.wait_for(1)
    server = by_name(gw.wait_for_server_spans(), "POST /openai/*")
    assert server.context is not None
    assert trace.metadata["otel_trace_id"] == format(server.context.trace_id, "032x")


def test_inbound_traceparent_is_honoured_and_propagated_upstream(
    start_observed: ObservedFactory, fake: FakeUpstream
) -> None:
    gw = start_observed()
    fake.script(CHAT, Reply.json(wire.CHAT_COMPLETION))
    post(gw.url, traceparent=f"00-{CLIENT_TRACE_ID}-{CLIENT_PARENT_ID}-01")
    spans = gw.wait_for_server_spans()
    server = by_name(spans, "POST /openai/*")
    client = by_name(spans, "proxy POST /openai/*")
    assert server.context is not None and client.context is not None
    assert format(server.context.trace_id, "032x") == CLIENT_TRACE_ID
    assert server.parent is not None and format(server.parent.span_id, "016x") == CLIENT_PARENT_ID
    forwarded = fake.received[0].header_values("traceparent")
    assert forwarded == [f"00-{CLIENT_TRACE_ID}-{format(client.context.span_id, '016x')}-01"]


def test_traceparent_is_injected_without_an_inbound_one(
    start_observed: ObservedFactory, fake: FakeUpstream
) -> None:
    gw = start_observed()
    fake.script(CHAT, Reply.json(wire.CHAT_COMPLETION))
    post(gw.url)
    client = by_name(gw.wait_for_server_spans(), "proxy POST /openai/*")
    assert client.context is not None
    (value,) = fake.received[0].header_values("traceparent")
    assert value.split("-")[1:3] == [
        format(client.context.trace_id, "032x"),
        format(client.context.span_id, "016x"),
    ]


def test_unsampled_request_exports_nothing_but_still_propagates(
    start_observed: ObservedFactory, fake: FakeUpstream
) -> None:
    gw = start_observed(observability__otel__sampling_ratio=0.0)
    fake.script(CHAT, Reply.json(wire.CHAT_COMPLETION))
    assert post(gw.url).status_code == 200
    (trace,) = gw.sink.wait_for(1)
    assert "otel_trace_id" not in trace.metadata
    assert gw.spans() == []
    (value,) = fake.received[0].header_values("traceparent")
    assert int(value.rsplit("-", 1)[1], 16) & 1 == 0  # the sampled flag is off


def test_inbound_unsampled_parent_is_not_sampled_and_its_trace_id_goes_upstream(
    start_observed: ObservedFactory, fake: FakeUpstream
) -> None:
    gw = start_observed(observability__otel__sampling_ratio=1.0)
    fake.script(CHAT, Reply.json(wire.CHAT_COMPLETION))
    assert post(gw.url, traceparent=f"00-{CLIENT_TRACE_ID}-{CLIENT_PARENT_ID}-00").status_code == 200
    gw.sink.wait_for(1)
    assert gw.spans() == []  # the parent's "not sampled" wins over ratio 1.0
    (value,) = fake.received[0].header_values("traceparent")
    version, trace_id, span_id, flags = value.split("-")
    assert (version, trace_id, flags) == ("00", CLIENT_TRACE_ID, "00")
    assert span_id not in (CLIENT_PARENT_ID, "0" * 16)  # the gateway's own (unsampled) span id


def test_roots_are_sampled_by_trace_id_as_the_ratio_sampler_decides(
    start_observed: ObservedFactory, fake: FakeUpstream
) -> None:
    """Sampled or not, every request's trace id lands on the side of the ratio's bound its decision says,
    as any TraceIdRatioBased sampler downstream would decide it."""
    bound = TraceIdRatioBased.get_bound_for_rate(0.5)
    gw = start_observed(observability__otel__sampling_ratio=0.5)
    for _ in range(24):
        fake.script(CHAT, Reply.json(wire.CHAT_COMPLETION))
    for _ in range(24):
        assert post(gw.url).status_code == 200
    gw.sink.wait_for(24)
    forwarded = [r.header_values("traceparent")[0].split("-") for r in fake.received]
    sampled = {int(trace_id, 16) for _, trace_id, _, flags in forwarded if flags == "01"}
    unsampled = {int(trace_id, 16) for _, trace_id, _, flags in forwarded if flags == "00"}
    assert len(sampled) + len(unsampled) == 24
    assert all(t & TraceIdRatioBased.TRACE_ID_LIMIT < bound for t in sampled)
    assert all(t & TraceIdRatioBased.TRACE_ID_LIMIT >= bound for t in unsampled)
    if sampled:
        servers = [s for s in gw.wait_for_server_spans(len(sampled)) if s.name == "POST /openai/*"]
        assert {s.context.trace_id for s in servers if s.context is not None} == sampled


def test_dead_upstream_marks_client_route_and_server_spans(start_observed: ObservedFactory) -> None:
    gw = start_observed(providers__openai__upstream=f"http://127.0.0.1:{free_port()}")
    assert post(gw.url).status_code == 502
    spans = gw.wait_for_server_spans()
    tree = assert_tree(spans)
    client = by_name(spans, "proxy POST /openai/*")
    assert client.status.status_code is StatusCode.ERROR
    assert client.attributes is not None
    assert client.attributes["error.type"] == "upstream_unreachable"
    assert tree["route"].status.status_code is StatusCode.ERROR
    assert tree["route"].status.description == "http 502"
    assert tree["server"].status.status_code is StatusCode.ERROR
    assert tree["auth"].attributes is not None
    assert tree["auth"].attributes["gateway.auth.result"] == "allow"


@pytest.mark.parametrize(("status", "reason"), [(401, "unauthorized"), (403, "forbidden")])
def test_upstream_denial_reads_as_auth_deny(
    start_observed: ObservedFactory, fake: FakeUpstream, status: int, reason: str
) -> None:
    gw = start_observed()
    fake.script(CHAT, Reply.json(b'{"error":{"message":"no"}}', status))
    assert post(gw.url).status_code == status
    auth = by_name(gw.wait_for_server_spans(), "gateway.auth")
    assert auth.attributes is not None
    assert auth.attributes["gateway.auth.result"] == "deny"
    assert auth.attributes["gateway.auth.deny_reason"] == reason
    assert auth.status.status_code is StatusCode.ERROR
    assert auth.status.description == reason
    server = by_name(gw.spans(), "POST /openai/*")
    assert server.status.status_code is StatusCode.UNSET  # 4xx never sets error on the server span


def test_policy_block_has_a_policy_span_and_no_upstream_call(
    start_observed: ObservedFactory, fake: FakeUpstream
) -> None:
    gw = start_observed(pii__mode="block")
    body = orjson.dumps(
        {"model": "gpt-4o", "messages": [{"role": "user", "content": "mail alice@example.com"}]}
    )
    assert post(gw.url, body).status_code == 403
    spans = gw.wait_for_server_spans()
    tree = assert_tree(spans)
    policy = by_name(spans, "gateway.policy")
    assert parent_of(policy, spans) is tree["route"]
    assert policy.attributes is not None
    assert policy.attributes["gateway.policy.result"] == "deny"
    assert policy.attributes["gateway.policy.mode"] == "block"
    assert policy.status.status_code is StatusCode.ERROR
    assert not [s for s in spans if s.name.startswith("proxy ")]
    assert fake.received == []
    assert tree["auth"].attributes is not None
    assert tree["auth"].attributes["gateway.auth.deny_reason"] == "forbidden"  # PII 403 reads as deny


def test_policy_allow_is_recorded(start_observed: ObservedFactory, fake: FakeUpstream) -> None:
    gw = start_observed(pii__mode="block")
    fake.script(CHAT, Reply.json(wire.CHAT_COMPLETION))
    assert post(gw.url).status_code == 200
    policy = by_name(gw.wait_for_server_spans(), "gateway.policy")
    assert policy.attributes is not None
    assert policy.attributes["gateway.policy.result"] == "allow"


def test_api_request_has_server_auth_route_spans(start_observed: ObservedFactory) -> None:
    gw = start_observed()
    assert httpx.get(gw.url + "/api/nothing-here", timeout=10).status_code == 404
    spans = gw.wait_for_server_spans()
    server = by_name(spans, "GET /api/*")
    auth = by_name(spans, "gateway.auth")
    route = by_name(spans, "gateway.route")
    assert parent_of(auth, spans) is server and parent_of(route, spans) is auth
    assert route.attributes is not None
    assert route.attributes["gateway.route.provider"] == "unknown"
    assert route.attributes["gateway.route.prefix"] == "/"
    assert not [s for s in spans if s.name == "gateway.trace.enqueue"]


def test_other_paths_use_the_other_pattern(start_observed: ObservedFactory) -> None:
    gw = start_observed()
    httpx.get(gw.url + "/v1/models/secret-id-123", timeout=10)
    server = [s for s in gw.wait_for_server_spans() if s.kind is SpanKind.SERVER][0]
    assert server.name == "GET /other"


def test_metrics_path_is_not_traced(start_observed: ObservedFactory) -> None:
    gw = start_observed()
    assert httpx.get(gw.url + "/metrics", timeout=10).status_code == 200
    assert httpx.get(gw.url + "/api/x", timeout=10).status_code == 404
    spans = gw.wait_for_server_spans()
    assert [s.name for s in spans if s.kind is SpanKind.SERVER] == ["GET /api/*"]


def test_auth_denial_is_a_deny_span_without_a_route_to_upstream(
    start_observed: ObservedFactory, fake: FakeUpstream
) -> None:
    gw = start_observed(with_auth=True)
    assert post(gw.url).status_code == 401  # no gateway key
    spans = gw.wait_for_server_spans()
    auth = by_name(spans, "gateway.auth")
    assert auth.attributes is not None
    assert auth.attributes["gateway.auth.result"] == "deny"
    assert auth.attributes["gateway.auth.deny_reason"] == "unauthorized"
    assert auth.status.status_code is StatusCode.ERROR
    assert "gateway.key_id" not in auth.attributes
    assert not [s for s in spans if s.name.startswith("proxy ") or s.name == "gateway.trace.enqueue"]
    assert fake.received == []
    # observability.md §2: `gateway.route` wraps the router, which a denied request never reaches.
    assert [s.name for s in spans if s.name == "gateway.route"] == []


@pytest.mark.parametrize(
    ("method", "path", "token"),
    [
        ("GET", "/api/traces", None),
        ("GET", "/api/traces", "ogk_not_a_known_token_000000000000"),
        ("GET", "/api/internal/debug", GATEWAY_TOKEN),  # unmapped: denied before authentication
    ],
    ids=["api-missing-key", "api-unknown-key", "api-unmapped"],
)
def test_a_request_auth_denies_has_no_route_span(
    start_observed: ObservedFactory, method: str, path: str, token: str | None
) -> None:
    gw = start_observed(with_auth=True)
    headers = {"x-ongoingai-gateway-key": token} if token else {}
    assert httpx.request(method, gw.url + path, headers=headers, timeout=10).status_code in (401, 403)
    spans = gw.wait_for_server_spans()
    assert by_name(spans, "gateway.auth").attributes["gateway.auth.result"] == "deny"  # type: ignore[index]
    assert "gateway.route" not in [s.name for s in spans]


def test_an_admitted_api_request_has_a_route_span_with_the_callers_tenant(
    start_observed: ObservedFactory,
) -> None:
    gw = start_observed(with_auth=True)
    headers = {"x-ongoingai-gateway-key": GATEWAY_TOKEN}
    # Admitted (`analytics:read`), then routed to this gateway's API app, which has no routes: 404.
    assert httpx.get(gw.url + "/api/traces", headers=headers, timeout=10).status_code == 404
    spans = gw.wait_for_server_spans()
    auth, route = by_name(spans, "gateway.auth"), by_name(spans, "gateway.route")
    assert parent_of(route, spans) is auth
    assert route.attributes is not None and auth.attributes is not None
    assert route.attributes["gateway.org_id"] == "org-acme"
    assert auth.attributes["gateway.key_id"] == "gwk_test_1"


def test_authenticated_request_is_enriched_with_the_identity(
    start_observed: ObservedFactory, fake: FakeUpstream
) -> None:
    gw = start_observed(with_auth=True)
    fake.script(CHAT, Reply.json(wire.CHAT_COMPLETION))
    assert post(gw.url, None, **{"x-ongoingai-gateway-key": GATEWAY_TOKEN}).status_code == 200
    spans = gw.wait_for_server_spans()
    auth = by_name(spans, "gateway.auth")
    assert auth.attributes is not None
    assert auth.attributes["gateway.auth.result"] == "allow"
    assert auth.attributes["gateway.key_id"] == "gwk_test_1"
    assert auth.attributes["gateway.role"] == "developer"
    assert auth.attributes["gateway.org_id"] == "org-acme"
    assert auth.attributes["gateway.workspace_id"] == "ws-main"
    (requests,) = gw.metrics()["ongoingai.proxy.request_total"]
    assert requests.attributes["org_id"] == "org-acme"
    assert GATEWAY_TOKEN not in "\n".join(s.to_json() for s in spans)
