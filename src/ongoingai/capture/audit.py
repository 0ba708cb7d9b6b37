"""The `pii.*` audit record of one exchange (DEVIATIONS.md "Audit records"): what the policy did and why,
in counts, classes and JSON paths, never a matched value.

At most one record per request. The guardrail's decision comes first (`pii.redact` when the provider got
a redacted body, `pii.block`, `pii.deny_uncertain`, `pii.observe`); a request the guardrail let through
untouched still gets `pii.redact` when its stored copy was redacted or dropped (`redact_storage`, and the
storage half of every other mode), because a reviewer asking "when did the gateway keep less than it was
sent?" must find every such trace in the audit log. Header redaction is not a decision (it is always on,
for every request) and is never recorded here. Pure: the app hands the result to the audit writer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ongoingai.capture.exchange import Exchange
from ongoingai.policy import FAILURE_SEMANTICS, Decision, EffectivePolicy, Mode, StoredBodies

PII_DETECTED = "pii_detected"
EVALUATION_FAILED = "policy_evaluation_failed"
# What `block` / `redact_upstream` would have done with a body observe mode saw (DEVIATIONS "observe").
_WOULD_ON_MATCH = {"block": "pii.block", "redact_upstream": "pii.redact"}
_WOULD_ON_DOUBT = {"block": "pii.deny_uncertain", "redact_upstream": "pii.deny_uncertain"}


@dataclass(frozen=True, slots=True)
class PiiAudit:
    """The fields of one `audit_events` row, but for id, time and trace id (the app adds those)."""

    action: str
    outcome: str
    reason: str
    org_id: str
    workspace_id: str
    actor_key_id: str
    correlation_id: str
    details: dict[str, Any] = field(default_factory=dict)


def pii_audit(
    ex: Exchange, policy: EffectivePolicy, stored: StoredBodies, tenant: tuple[str, str]
) -> PiiAudit | None:
    """The record for this exchange, or None when the policy changed and refused nothing."""
    decision = ex.decision
    if decision is not None and decision.audit_action is not None:
        action, outcome = decision.audit_action, decision.audit_outcome
        reason, details = decision.reason, _decision_details(decision)
    elif stored.storage_drop:
        action, outcome, reason = "pii.redact", "redacted", EVALUATION_FAILED
        details = {
            "stage": "storage",
            "storage_drop": True,
            "failure_semantics": FAILURE_SEMANTICS,
            "error": stored.error,
        }
    elif stored.counts:
        action, outcome, reason = "pii.redact", "redacted", PII_DETECTED
        details = {"stage": "storage", "counts": dict(stored.counts), "paths": list(stored.paths)}
    else:
        return None
    return PiiAudit(
        action=action,
        outcome=outcome,
        reason=reason,
        org_id=tenant[0],
        workspace_id=tenant[1],
        actor_key_id=ex.identity.key_id if ex.identity is not None else "",
        correlation_id=ex.correlation_id,
        details={**_policy_details(ex, policy), **details},
    )


def _policy_details(ex: Exchange, policy: EffectivePolicy) -> dict[str, Any]:
    scope = "global" if policy.scope_index is None else f"pii.scopes[{policy.scope_index}]"
    return {
        "mode": policy.mode.value,
        "policy_id": policy.policy_id,
        "scope": scope,
        "provider": ex.provider,
        "method": ex.method,
        "path": ex.path,
    }


def _decision_details(decision: Decision) -> dict[str, Any]:
    details: dict[str, Any] = {"stage": "request"}
    if decision.counts:
        details["counts"] = dict(decision.counts)
        details["paths"] = list(decision.paths)
    if decision.error:
        details["error"] = decision.error  # one of policy/decide.py's and codec.py's fixed messages
    if decision.status_code is not None:
        details["status_code"] = decision.status_code
    if decision.mode is Mode.OBSERVE:
        details["would"] = dict(_WOULD_ON_DOUBT if decision.error else _WOULD_ON_MATCH)
    return details
