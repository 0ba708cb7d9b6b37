"""Root spans decided before the SDK sees them: an unsampled request costs a random id, not a span.

`Tracer.start_span` is dear even when its sampler says no: three context lookups, the sampler's own
parent lookup, trace-flag objects and a `NonRecordingSpan`. At a sampling ratio of 0.1 nine requests in
ten pay that for nothing but the ids they forward upstream in `traceparent` (issue 7, "Performance").

`RootSampling` makes the same decision as the SDK's `ParentBased(TraceIdRatioBased(ratio))` for a span
without a parent — sampled iff the trace id's low 64 bits are below the ratio's bound — on a trace id it
draws itself. A no gives the request a plain `SpanContext` (its ids, flags "not sampled" and "random
trace id", as the SDK sets them). A yes stages that trace id in `StagedIdGenerator`, so that the SDK's
`start_span` draws it and its own sampler, asked about the same id, says yes again: a sampled root is
the SDK's span, built, sampled and exported as before. A request with a parent (an inbound
`traceparent`) goes to the SDK as before, which honours the parent's flag.
"""

from __future__ import annotations

import threading

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
from opentelemetry.trace import INVALID_TRACE_ID, SpanContext, TraceFlags

_UNSAMPLED_FLAGS = TraceFlags(TraceFlags.DEFAULT | TraceFlags.RANDOM_TRACE_ID)


class StagedIdGenerator(RandomIdGenerator):
    """Random ids, but the next trace id of this thread may be staged (`RootSampling.unsampled`)."""

    def __init__(self) -> None:
        self._staged = threading.local()

    def stage(self, trace_id: int) -> None:
        self._staged.trace_id = trace_id

    def generate_trace_id(self) -> int:
        staged: int = getattr(self._staged, "trace_id", INVALID_TRACE_ID)
        if staged != INVALID_TRACE_ID:
            self._staged.trace_id = INVALID_TRACE_ID
            return staged
        return self.fresh_trace_id()

    def fresh_trace_id(self) -> int:
        """A random trace id, never the staged one."""
        return super().generate_trace_id()


class RootSampling:
    def __init__(self, ratio: float, ids: StagedIdGenerator) -> None:
        self._bound = TraceIdRatioBased.get_bound_for_rate(ratio)
        self._ids = ids

    def unsampled(self) -> SpanContext | None:
        """The context of a new root that is not sampled, or None when it is: then the next root span
        started on this thread gets the trace id that was sampled (call `Tracer.start_span` next)."""
        ids = self._ids
        trace_id = ids.fresh_trace_id()
        if trace_id & TraceIdRatioBased.TRACE_ID_LIMIT < self._bound:
            ids.stage(trace_id)
            return None
        return SpanContext(trace_id, ids.generate_span_id(), is_remote=False, trace_flags=_UNSAMPLED_FLAGS)


class HashedResource(Resource):
    """A `Resource` whose hash is computed once. The OTLP encoder groups spans by resource, which hashes
    it once per span, and `Resource.__hash__` serialises every attribute to JSON each time: a tenth of
    the span export thread's CPU. The attributes are immutable, so the hash never changes."""

    def __init__(self, resource: Resource) -> None:
        super().__init__(resource.attributes, resource.schema_url)
        self._hash = super().__hash__()

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:  # as Resource's (ruff: a class with __hash__ defines both)
        return super().__eq__(other)
