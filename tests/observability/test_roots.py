"""Root sampling before the SDK (observability/roots.py): the decisions of ParentBased(TraceIdRatioBased)."""

from __future__ import annotations

import random
import threading

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, TraceIdRatioBased
from opentelemetry.trace import INVALID_TRACE_ID, TraceFlags

from ongoingai.observability.roots import HashedResource, RootSampling, StagedIdGenerator


def sdk_samples(ratio: float, trace_id: int) -> bool:
    result = ParentBased(TraceIdRatioBased(ratio)).should_sample(None, trace_id, "POST /openai/*")
    return result.decision is Decision.RECORD_AND_SAMPLE


def staged(ids: StagedIdGenerator) -> int:
    value: int = getattr(ids._staged, "trace_id", INVALID_TRACE_ID)
    return value


@pytest.mark.parametrize("ratio", [0.0, 0.1, 0.5, 1.0])
def test_each_decision_is_the_sdk_samplers_for_the_same_trace_id(ratio: float) -> None:
    ids = StagedIdGenerator()
    roots = RootSampling(ratio, ids)
    random.seed(7)
    outcomes = {True: 0, False: 0}
    for _ in range(2000):
        unsampled = roots.unsampled()
        if unsampled is None:
            trace_id = staged(ids)
            assert trace_id != INVALID_TRACE_ID
            assert sdk_samples(ratio, trace_id)
            assert ids.generate_trace_id() == trace_id  # the SDK's next root gets exactly this id
            outcomes[True] += 1
        else:
            assert staged(ids) == INVALID_TRACE_ID  # nothing left staged for an unrelated root
            assert unsampled.is_valid and not unsampled.is_remote
            assert not unsampled.trace_flags.sampled
            assert unsampled.trace_flags & TraceFlags.RANDOM_TRACE_ID  # as the SDK flags its own ids
            assert not sdk_samples(ratio, unsampled.trace_id)
            outcomes[False] += 1
    if ratio == 0.0:
        assert outcomes[True] == 0
    elif ratio == 1.0:
        assert outcomes[False] == 0
    else:  # 2000 draws: far inside these bounds unless the decision is wrong
        assert 0.5 * ratio < outcomes[True] / 2000 < 1.5 * ratio


def test_a_staged_trace_id_becomes_the_sdk_spans_and_is_sampled() -> None:
    ids = StagedIdGenerator()
    roots = RootSampling(0.5, ids)
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.5)), id_generator=ids)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    random.seed(11)
    sampled_ids = []
    for _ in range(200):
        if roots.unsampled() is None:
            trace_id = staged(ids)
            span = tracer.start_span("root")
            assert span.is_recording()
            assert span.get_span_context().trace_id == trace_id
            span.end()
            sampled_ids.append(trace_id)
    assert sampled_ids
    assert [s.context.trace_id for s in exporter.get_finished_spans() if s.context] == sampled_ids


def test_a_staged_id_is_used_once_and_only_on_its_thread() -> None:
    ids = StagedIdGenerator()
    ids.stage(0xABC)
    other: list[int] = []
    thread = threading.Thread(target=lambda: other.append(ids.generate_trace_id()))
    thread.start()
    thread.join()
    assert other[0] != 0xABC and other[0] != INVALID_TRACE_ID
    assert ids.generate_trace_id() == 0xABC
    assert ids.generate_trace_id() not in (0xABC, INVALID_TRACE_ID)


def test_hashed_resource_equals_and_hashes_as_the_resource_it_wraps() -> None:
    plain = Resource.create({"service.name": "ongoingai", "service.version": "1.2.3"})
    hashed = HashedResource(plain)
    assert hashed == plain and plain == hashed
    assert hash(hashed) == hash(plain)
    assert dict(hashed.attributes) == dict(plain.attributes)
    assert hashed.schema_url == plain.schema_url
    assert hashed != HashedResource(Resource.create({"service.name": "other"}))


def test_spans_with_a_hashed_resource_encode_as_with_the_plain_one() -> None:
    plain = Resource.create({"service.name": "ongoingai"})
    encoded = []
    for resource in (plain, HashedResource(plain)):
        exporter = InMemorySpanExporter()
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        for name in ("a", "b"):
            provider.get_tracer("test").start_span(name).end()
        request = encode_spans(exporter.get_finished_spans())
        assert len(request.resource_spans) == 1  # one group: every span shares the resource
        encoded.append(request.resource_spans[0].resource)
    assert encoded[0] == encoded[1]
