"""`TraceBuilder`: turns a finished `Exchange` into a `TraceRecord` (traces-and-lineage.md §1–2, §5).

Runs after the client has its last byte: header redaction, credential hashing, decoding the captured
copy, model/usage parsing, pricing, body storage policy and lineage metadata all happen here, off the
request's critical path.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ongoingai.capture.audit import PiiAudit, pii_audit
from ongoingai.capture.exchange import Exchange
from ongoingai.config import Settings
from ongoingai.policy import (
    EffectivePolicy,
    PolicySubject,
    Redactor,
    StoredBodies,
    merge_counts,
    redact_for_storage,
)
from ongoingai.providers.decode import decode_body
from ongoingai.providers.extract import extract_usage
from ongoingai.providers.pricing import PriceTable
from ongoingai.providers.sse import ParsedStream, parse_stream
from ongoingai.traces import TraceRecord
from ongoingai.traces.record import DEFAULT_TENANT, normalise_ttft

Clock = Callable[[], datetime]
IdSource = Callable[[], str]

LINEAGE_HEADERS = {
    b"x-ongoingai-trace-group-id": "lineage_group_id",
    b"x-ongoingai-thread-id": "lineage_thread_id",
    b"x-ongoingai-run-id": "lineage_run_id",
    b"x-ongoingai-parent-checkpoint-id": "lineage_parent_checkpoint_id",
    b"x-ongoingai-checkpoint-seq": "lineage_checkpoint_seq",
}


def utc_now() -> datetime:
    return datetime.now(UTC)


class _RandomIds:
    """128-bit random hex ids from a pool of system randomness, refilled every `BATCH` ids.

    One `os.urandom` call per trace was a syscall that also releases the GIL (the store's writer thread
    then takes it): one call per `BATCH` traces keeps both off the per-request path. A forked child
    starts with an empty pool so that it never hands out its parent's ids.
    """

    BATCH = 256

    def __init__(self) -> None:
        self._pool = ""
        self._at = 0
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=self._forget)

    def __call__(self) -> str:
        with self._lock:
            at = self._at
            if at >= len(self._pool):
                self._pool = os.urandom(16 * self.BATCH).hex()
                at = 0
            self._at = at + 32
            return self._pool[at : at + 32]

    def _forget(self) -> None:
        self._pool = ""
        self._at = 0


new_trace_id: IdSource = _RandomIds()


def credential_of(headers: list[tuple[bytes, bytes]]) -> str:
    """proxy.md §4: `Authorization` minus a case-insensitive `Bearer `, else `X-API-Key`; "" when none."""
    authorization = api_key = ""
    for name, value in headers:
        if name == b"authorization" and not authorization:
            authorization = value.decode("latin-1").strip()
        elif name == b"x-api-key" and not api_key:
            api_key = value.decode("latin-1").strip()
    if authorization:
        return authorization[7:].strip() if authorization[:7].lower() == "bearer " else authorization
    return api_key


def lineage_of(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, value in headers:
        key = LINEAGE_HEADERS.get(name)
        if key is None or key in found:
            continue
        text = value.decode("latin-1").strip()
        if not text:
            continue
        if key == "lineage_checkpoint_seq":
            if text.isascii() and text.isdigit():
                found[key] = int(text)
        else:
            found[key] = text
    return found


def _header(headers: list[tuple[bytes, bytes]], wanted: bytes) -> str:
    for name, value in headers:
        if name == wanted:
            return value.decode("latin-1")
    return ""


class TraceBuilder:
    def __init__(
        self,
        settings: Settings,
        prices: PriceTable,
        redactor: Redactor,
        *,
        clock: Clock = utc_now,
        new_id: IdSource = new_trace_id,
    ) -> None:
        self._capture_bodies = settings.tracing.capture_bodies
        self._body_max = settings.tracing.effective_body_max_size
        self._prices = prices
        self._redactor = redactor
        self._clock = clock
        self._new_id = new_id

    def policy_for(self, ex: Exchange) -> EffectivePolicy:
        """The effective PII policy; the request path resolves it first and the tap carries it here."""
        if ex.policy is not None:
            return ex.policy
        return self._redactor.resolve(subject_of(ex))

    def build(self, ex: Exchange) -> TraceRecord:
        return self.build_with_audit(ex)[0]

    def build_with_audit(self, ex: Exchange) -> tuple[TraceRecord, PiiAudit | None]:
        """The trace, and the `pii.*` audit record its policy decisions call for (capture/audit.py)."""
        trace_id = self._new_id()
        now = self._clock()
        policy = self.policy_for(ex)
        stored_request_headers = self._redactor.redact_headers(ex.request_headers)
        stored_response_headers = self._redactor.redact_headers(ex.response_headers, response=True)
        encoding = _header(ex.response_headers, b"content-encoding")
        response_body, decoded_truncated = decode_body(ex.response_prefix, encoding, self._body_max)
        request_body = ex.request_body[: self._body_max]
        # A stream is split and parsed once, for usage here and for the storage redactor's screen.
        parsed = parse_stream(response_body) if ex.streaming else None
        usage = extract_usage(
            ex.provider,
            request_body,
            response_body,
            streaming=ex.streaming,
            stream_payloads=parsed.payloads if parsed is not None else None,
        )
        cost = self._prices.estimate(ex.provider, usage)
        credential = credential_of(ex.request_headers)
        lineage = lineage_of(ex.request_headers)
        identity = ex.identity
        ttft_us = (ex.first_write_ns - ex.started_ns) // 1000 if ex.streaming and ex.first_write_ns else 0
        ttft_ms, ttft_us = normalise_ttft(-(-ttft_us // 1000) if ttft_us else 0, ttft_us)
        header_count = stored_request_headers.redacted + stored_response_headers.redacted
        metadata: dict[str, Any] = {
            "streaming": ex.streaming,
            "stream_chunks": ex.chunks if ex.streaming else 0,
            "redaction_mode": policy.mode.value,
            "redaction_policy_id": policy.policy_id or "default/v1",
            "redaction_applied": header_count > 0,
            "lineage_checkpoint_id": trace_id,
            "lineage_immutable": True,
            "correlation_id": ex.correlation_id,
            "cost_status": cost.status,
            "price_table_version": cost.table_version,
            "cached_input_tokens": usage.cached_input_tokens,
            "cache_creation_input_tokens": usage.cache_creation_input_tokens,
            "reasoning_tokens": usage.reasoning_tokens,
        }
        if header_count:
            metadata["redaction_counts"] = {"header": header_count}
        metadata.update(lineage)
        if credential:
            metadata["api_key_last4"] = credential[-4:]
        if ex.failure_class:
            metadata["failure_class"] = ex.failure_class
        if ex.stream_incomplete:
            metadata["stream_incomplete"] = True
        if identity is not None:
            for key, value in (
                ("gateway_key_id", identity.key_id),
                ("team", identity.team),
                ("role", identity.role),
                ("org_id", identity.org_id),
                ("workspace_id", identity.workspace_id),
            ):
                if value:
                    metadata[key] = value
        stored = self._bodies_for_storage(
            ex, policy, request_body, response_body, decoded_truncated, metadata, parsed
        )
        if ex.decision is not None and ex.decision.inspected and policy.mode.value == "observe":
            # DEVIATIONS "observe": what block / redact_upstream would have done, never the values.
            metadata["redaction_observed_counts"] = dict(ex.decision.counts)
            metadata["redaction_observed_paths"] = list(ex.decision.paths)
        record = TraceRecord(
            id=trace_id,
            timestamp=now,
            created_at=now,
            provider=ex.provider,
            model=usage.model or "unknown",
            request_method=ex.method or "UNKNOWN",
            request_path=ex.path or "/",
            response_status=ex.response_status or 200,
            trace_group_id=lineage.get("lineage_group_id"),
            org_id=tenant_of(ex)[0],
            workspace_id=tenant_of(ex)[1],
            request_headers=stored_request_headers.headers,
            response_headers=stored_response_headers.headers,
            request_body=stored.request_body,
            response_body=stored.response_body,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            total_tokens=usage.total_tokens or usage.input_tokens + usage.output_tokens,
            latency_ms=(ex.ended_ns - ex.started_ns) // 1_000_000,
            time_to_first_token_ms=ttft_ms,
            time_to_first_token_us=ttft_us,
            api_key_hash=hashlib.sha256(credential.encode()).hexdigest() if credential else "",
            gateway_key_id=identity.key_id if identity and identity.key_id else None,
            estimated_cost_usd=cost.cost_usd,
            metadata=metadata,
        )
        return record, pii_audit(ex, policy, stored, tenant_of(ex))

    def _bodies_for_storage(
        self,
        ex: Exchange,
        policy: EffectivePolicy,
        request_body: bytes,
        response_body: bytes,
        decoded_truncated: bool,
        metadata: dict[str, Any],
        parsed: ParsedStream | None,
    ) -> StoredBodies:
        """Bodies as stored: none without `capture_bodies`; else redacted per mode (privacy §3, §5)."""
        if not self._capture_bodies:
            return StoredBodies("", "")
        stored = redact_for_storage(
            self._redactor,
            mode=policy.mode,
            workspace_id=tenant_of(ex)[1],
            request_body=request_body,
            response_body=response_body,
            response_stream=ex.streaming,
            request_truncated=ex.request_truncated,
            response_truncated=ex.response_truncated or decoded_truncated,
            response_parsed=parsed.objects if parsed is not None else {},
        )
        body_meta = stored.metadata()
        header_counts = metadata.pop("redaction_counts", {})
        counts = merge_counts(header_counts, body_meta.pop("redaction_counts", {}))
        if counts:
            metadata["redaction_counts"] = counts
            metadata["redaction_applied"] = True
        if stored.storage_drop:
            metadata["redaction_applied"] = True
        metadata.update(body_meta)
        if not policy.mode.redacts_storage and (
            ex.request_truncated or ex.response_truncated or decoded_truncated
        ):
            # Stored raw (mode off): say the copy is a prefix; `redaction_truncated` is for redacted copies.
            metadata["body_truncated"] = True
        return stored


def tenant_of(ex: Exchange) -> tuple[str, str]:
    """(org_id, workspace_id) with `default` for unauthenticated requests (DEVIATIONS: both paths)."""
    identity = ex.identity
    if identity is None:
        return DEFAULT_TENANT, DEFAULT_TENANT
    return identity.org_id or DEFAULT_TENANT, identity.workspace_id or DEFAULT_TENANT


def subject_of(ex: Exchange) -> PolicySubject:
    org_id, workspace_id = tenant_of(ex)
    key_id = ex.identity.key_id if ex.identity is not None else ""
    return PolicySubject(
        org_id=org_id, workspace_id=workspace_id, key_id=key_id, provider=ex.provider, path=ex.path
    )
