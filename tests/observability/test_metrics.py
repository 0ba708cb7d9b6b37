"""Instruments of observability.md §3 + DEVIATIONS.md, bounded labels, and the Prometheus endpoint."""

from __future__ import annotations

import httpx
import orjson
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e import wire
from tests.fakes.servers import free_port
from tests.fakes.upstream import FakeUpstream, Reply
from tests.observability.conftest import PROVIDER_KEY, ObservedFactory, ObservedGateway

CHAT = "/v1/chat/completions"
SPEC_PROMETHEUS = {
    "ongoingai_trace_queue_dropped_total": "counter",
    "ongoingai_trace_write_failed_total": "counter",
    "ongoingai_trace_enqueued_total": "counter",
    "ongoingai_trace_written_total": "counter",
    "ongoingai_trace_flush_duration_seconds": "histogram",
    "ongoingai_trace_flush_batch_size": "histogram",
    "ongoingai_trace_queue_depth": "gauge",
    "ongoingai_trace_queue_capacity": "gauge",
    "ongoingai_provider_request_total": "counter",
    "ongoingai_provider_request_duration_seconds": "histogram",
    "ongoingai_proxy_request_total": "counter",
    "ongoingai_proxy_request_duration_seconds": "histogram",
}
SCOPE_LABELS = {"provider", "model", "org_id", "workspace_id", "route"}


def post(url: str, model: str = "gpt-4o-mini-2024-07-18", path: str = "/openai/v1/chat/completions") -> int:
    body = orjson.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}]})
    response = httpx.post(
        url + path,
        content=body,
        headers={"authorization": f"Bearer {PROVIDER_KEY}", "content-type": "application/json"},
        timeout=10,
    )
    return response.status_code


def scrape(gw: ObservedGateway, accept: str = "") -> httpx.Response:
    response = httpx.get(gw.url + "/metrics", headers={"accept": accept} if accept else {}, timeout=10)
    assert response.status_code == 200
    return response


def test_exchange_metrics_carry_scope_labels(start_observed: ObservedFactory, fake: FakeUpstream) -> None:
    gw = start_observed()
    fake.script(CHAT, Reply.json(wire.CHAT_COMPLETION))
    assert post(gw.url) == 200
    gw.sink.wait_for(1)
    metrics = gw.metrics()
    (requests,) = metrics["ongoingai.proxy.request_total"]
    assert requests.value == 1
    assert dict(requests.attributes) == {
        "provider": "openai",
        "model": "gpt-4o-mini",  # the request names gpt-4o-mini-2024-07-18: its price-table family
        "org_id": "default",
        "workspace_id": "default",
        "route": "/openai/*",
        "status_code": 200,
    }
    (provider,) = metrics["ongoingai.provider.request_total"]
    assert dict(provider.attributes) == dict(requests.attributes)
    (duration,) = metrics["ongoingai.proxy.request_duration_seconds"]
    assert duration.count == 1
    assert list(duration.explicit_bounds) == [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    tokens = {p.attributes["direction"]: p.value for p in metrics["ongoingai.tokens"]}
    assert tokens == {"input": 19, "output": 10}
    (cost,) = metrics["ongoingai.cost.usd"]
    assert cost.value > 0
    (enqueued,) = metrics["ongoingai.trace.enqueued_total"]
    assert enqueued.value == 1
    assert "ongoingai.upstream.errors" not in metrics


def test_streaming_records_ttft(start_observed: ObservedFactory, fake: FakeUpstream) -> None:
    gw = start_observed()
    fake.script(CHAT, Reply.sse(wire.chat_stream(["a", "b"])))
    assert post(gw.url) == 200
    gw.sink.wait_for(1)
    (ttft,) = gw.metrics()["ongoingai.proxy.ttft"]
    assert ttft.count == 1
    assert set(ttft.attributes) == SCOPE_LABELS


def test_unknown_model_is_labelled_other(start_observed: ObservedFactory, fake: FakeUpstream) -> None:
    gw = start_observed()
    body = orjson.dumps({"id": "x", "model": "my-private-finetune-7f3a9c", "choices": []})
    fake.script(CHAT, Reply.json(body))
    assert post(gw.url, model="my-private-finetune-7f3a9c") == 200
    gw.sink.wait_for(1)
    (requests,) = gw.metrics()["ongoingai.proxy.request_total"]
    assert requests.attributes["model"] == "other"


def test_upstream_failure_is_counted_by_class(start_observed: ObservedFactory) -> None:
    gw = start_observed(providers__openai__upstream=f"http://127.0.0.1:{free_port()}")
    assert post(gw.url) == 502
    gw.sink.wait_for(1)
    (errors,) = gw.metrics()["ongoingai.upstream.errors"]
    assert dict(errors.attributes) == {"provider": "openai", "failure_class": "upstream_unreachable"}
    assert errors.value == 1


def test_queue_drop_is_counted_with_status(start_observed: ObservedFactory, fake: FakeUpstream) -> None:
    from tests.fakes.memory_sink import MemorySink

    gw = start_observed(sink=MemorySink(capacity=0))
    fake.script(CHAT, Reply.json(wire.CHAT_COMPLETION))
    assert post(gw.url) == 200
    spans = gw.wait_for_spans(lambda s: any(x.name == "gateway.trace.enqueue" for x in s))
    (enqueue,) = [s for s in spans if s.name == "gateway.trace.enqueue"]
    assert enqueue.attributes is not None
    assert enqueue.attributes["gateway.trace.enqueue.result"] == "dropped"
    assert enqueue.status.description == "trace dropped"
    (dropped,) = gw.metrics()["ongoingai.trace.queue_dropped_total"]
    assert dropped.attributes["status_code"] == 200


def test_prometheus_exposes_exactly_the_spec_names(
    start_observed: ObservedFactory, fake: FakeUpstream
) -> None:
    gw = start_observed()
    fake.script(CHAT, Reply.json(wire.CHAT_COMPLETION))
    assert post(gw.url) == 200
    gw.sink.wait_for(1)
    text = scrape(gw).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    # prometheus_client's parser names counter families without `_total`; samples keep it.
    exposed: dict[str, str] = {}
    for family in families.values():
        for sample in family.samples:
            base = sample.name
            for suffix in ("_bucket", "_count", "_sum", "_created"):
                if family.type == "histogram" and base.endswith(suffix):
                    base = base[: -len(suffix)]
            exposed.setdefault(base, family.type)
    for name, kind in SPEC_PROMETHEUS.items():
        if name in ("ongoingai_trace_queue_dropped_total", "ongoingai_trace_write_failed_total"):
            continue  # no drop and no write failure happened: those series have no sample yet
        if name in ("ongoingai_trace_written_total", "ongoingai_trace_flush_duration_seconds"):
            continue  # written by the batch writer (tests/observability/test_writer.py)
        if name == "ongoingai_trace_flush_batch_size":
            continue
        assert exposed.get(name) == kind, (name, exposed.get(name))
    assert not [n for n in exposed if n.endswith("_total_total") or n.endswith("_seconds_seconds")]
    assert "ongoingai_tokens_total" in exposed and "ongoingai_proxy_ttft" not in exposed


def test_prometheus_labels_are_bounded(start_observed: ObservedFactory, fake: FakeUpstream) -> None:
    gw = start_observed()
    for i in range(3):
        body = orjson.dumps({"id": f"c{i}", "model": f"user-model-{i}-abcdef", "choices": []})
        fake.script(CHAT, Reply.json(body))
        assert post(gw.url, model=f"user-model-{i}-abcdef") == 200
    gw.sink.wait_for(3)
    text = scrape(gw).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            for label, value in sample.labels.items():
                assert "user-model" not in value, (sample.name, label)
                assert PROVIDER_KEY not in value
                assert "/v1/" not in value


def test_openmetrics_scrape_carries_trace_exemplars(
    start_observed: ObservedFactory, fake: FakeUpstream
) -> None:
    gw = start_observed()
    fake.script(CHAT, Reply.json(wire.CHAT_COMPLETION))
    assert post(gw.url) == 200
    (trace,) = gw.sink.wait_for(1)
    response = scrape(gw, accept="application/openmetrics-text; version=1.0.0")
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    lines = [
        line
        for line in response.text.splitlines()
        if line.startswith("ongoingai_proxy_request_duration_seconds_bucket") and "#" in line
    ]
    assert lines, response.text
    assert f'trace_id="{trace.metadata["otel_trace_id"]}"' in lines[0]
    assert response.text.rstrip().endswith("# EOF")


def test_classic_text_scrape_has_no_exemplars(start_observed: ObservedFactory, fake: FakeUpstream) -> None:
    gw = start_observed()
    fake.script(CHAT, Reply.json(wire.CHAT_COMPLETION))
    post(gw.url)
    gw.sink.wait_for(1)
    response = scrape(gw)
    assert response.headers["content-type"].startswith("text/plain")
    assert "trace_id" not in response.text


def test_metrics_path_needs_exact_match_and_no_trace(start_observed: ObservedFactory) -> None:
    gw = start_observed(observability__otel__prometheus_path="/internal/metrics")
    assert httpx.get(gw.url + "/internal/metrics", timeout=10).status_code == 200
    assert httpx.get(gw.url + "/internal/metrics/", timeout=10).status_code == 404
    assert httpx.post(gw.url + "/internal/metrics", timeout=10).status_code == 405
    assert gw.sink.records == []


def test_metrics_path_is_off_without_prometheus(start_observed: ObservedFactory) -> None:
    gw = start_observed(observability__otel__prometheus_enabled=False)
    assert httpx.get(gw.url + "/metrics", timeout=10).status_code == 404
