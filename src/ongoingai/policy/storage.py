"""Bodies for a stored trace (privacy-and-policy.md §3, §5): per stage, request first, and on any
redaction error both bodies are dropped while the traffic goes on (`storage_drop_continue_proxy`).

Call only when `tracing.capture_bodies` is on; runs in the trace builder, off the request's path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ongoingai.policy.modes import Mode
from ongoingai.policy.redactor import Redactor
from ongoingai.policy.result import Redaction, merge_counts
from ongoingai.policy.sse import NOTHING_PARSED

FAILURE_SEMANTICS = "storage_drop_continue_proxy"


@dataclass(frozen=True, slots=True)
class StoredBodies:
    request_body: str
    response_body: str
    counts: dict[str, int] = field(default_factory=dict)
    paths: tuple[str, ...] = ()
    truncated: bool = False
    storage_drop: bool = False
    error: str = ""

    def metadata(self) -> dict[str, Any]:
        """The body part of the trace's redaction metadata (§7); the caller adds header counts."""
        meta: dict[str, Any] = {}
        if self.counts:
            meta["redaction_counts"] = dict(self.counts)
        if self.truncated:
            meta["redaction_truncated"] = True
        if self.storage_drop:
            meta["redaction_storage_drop"] = True
            meta["redaction_failure_semantics"] = FAILURE_SEMANTICS
        return meta


def redact_for_storage(
    redactor: Redactor,
    *,
    mode: Mode,
    workspace_id: str,
    request_body: bytes,
    response_body: bytes,
    response_stream: bool = False,
    request_truncated: bool = False,
    response_truncated: bool = False,
    response_parsed: Mapping[str, Any] = NOTHING_PARSED,
) -> StoredBodies:
    """`response_parsed`: the streamed response's payloads as the caller parsed them (`redact_sse`)."""
    if not mode.redacts_storage:
        return StoredBodies(_raw(request_body), _raw(response_body))
    stages = redactor.stages
    request = (
        redactor.redact_body(request_body, workspace_id=workspace_id, truncated=request_truncated)
        if stages.request_body
        else None
    )
    if request is not None and request.error:
        return _dropped(request.error)
    response = (
        redactor.redact_body(
            response_body,
            workspace_id=workspace_id,
            stream=response_stream,
            truncated=response_truncated,
            parsed=response_parsed,
        )
        if stages.response_body
        else None
    )
    if response is not None and response.error:
        return _dropped(response.error)
    # Only a result that found something or was cut has anything to add: usually neither has.
    done = [r for r in (request, response) if r is not None and (r.counts or r.paths or r.truncated)]
    if not done:
        return StoredBodies(_text(request, request_body), _text(response, response_body))
    return StoredBodies(
        request_body=_text(request, request_body),
        response_body=_text(response, response_body),
        counts=merge_counts(*(r.counts for r in done)),
        paths=tuple(dict.fromkeys(p for r in done for p in r.paths)),
        truncated=any(r.truncated for r in done),
    )


def _dropped(error: str) -> StoredBodies:
    return StoredBodies("", "", storage_drop=True, error=error)


def _text(result: Redaction | None, raw: bytes) -> str:
    return _raw(raw) if result is None else result.text


def _raw(body: bytes) -> str:
    # Stored unredacted (mode off or stage off), as the builder stores any raw capture.
    return body.decode("utf-8", errors="replace")
