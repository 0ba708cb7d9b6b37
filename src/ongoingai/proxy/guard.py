"""The PII guardrail on the request path (privacy-and-policy.md §3, DEVIATIONS "observe").

Resolves the effective policy once per request (the trace builder reuses it from the tap), and in
`redact_upstream`, `block` and `observe` modes inspects the request body: a block is a 403, any
uncertainty a 503 (both plain text, both traced); `redact_upstream` forwards the redacted body;
`observe` never changes traffic and leaves its decision on the tap for the trace and audit record.
"""

from __future__ import annotations

import logging

from ongoingai.capture.build import subject_of
from ongoingai.capture.exchange import Exchange
from ongoingai.http.errors import GatewayError
from ongoingai.policy import Mode, Redactor, decide

logger = logging.getLogger(__name__)


class PolicyDeniedError(GatewayError):
    """A guardrail denial: 403 `request blocked by pii policy` or 503 policy uncertainty."""

    def __init__(self, status: int, message: str, reason: str) -> None:
        super().__init__(message, failure_class=reason)
        self.status = status


def _header(headers: list[tuple[bytes, bytes]], wanted: bytes) -> str:
    for name, value in headers:
        if name == wanted:
            return value.decode("latin-1")
    return ""


class RequestGuard:
    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._inspect_bodies = redactor.stages.request_body

    def check(self, tap: Exchange, body: bytes) -> bytes:
        """The body to forward.

        Raises:
            PolicyDeniedError: the mode blocks this body, or cannot be sure it is safe to forward.
        """
        policy = self._redactor.resolve(subject_of(tap))
        tap.policy = policy
        if not (policy.mode.inspects_requests and self._inspect_bodies):
            return body
        decision = decide(
            self._redactor,
            body,
            content_type=_header(tap.request_headers, b"content-type"),
            content_encoding=_header(tap.request_headers, b"content-encoding"),
            mode=policy.mode,
            workspace_id=subject_of(tap).workspace_id,
        )
        tap.decision = decision
        status = decision.status_code
        if status is not None:
            self._log_denial(tap, policy.mode, decision.reason, decision.counts, decision.error)
            raise PolicyDeniedError(status, decision.message, decision.reason)
        return decision.body if policy.mode is Mode.REDACT_UPSTREAM else body

    def _log_denial(self, tap: Exchange, mode: Mode, reason: str, counts: dict[str, int], error: str) -> None:
        fields: dict[str, object] = {
            "mode": mode.value,
            "reason": reason,
            "method": tap.method,
            "path": tap.path,
        }
        if tap.identity is not None:
            for key, value in (
                ("org_id", tap.identity.org_id),
                ("workspace_id", tap.identity.workspace_id),
                ("key_id", tap.identity.key_id),
            ):
                if value:
                    fields[key] = value
        if counts:
            fields["redaction_counts"] = dict(counts)
        if error:
            fields["error"] = error
        logger.warning("pii guardrail denied request", extra=fields)
