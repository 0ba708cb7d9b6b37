"""The request guardrail's decision (privacy-and-policy.md §3): allow, forward redacted, block, or deny
on uncertainty; pure, so the HTTP layer only maps the decision to a response, a log line and an audit.

Fail closed: whatever keeps the body from being inspected with certainty (size, media type, charset,
content coding, invalid UTF-8, JSON that does not parse under a JSON media type) denies in
`redact_upstream` and `block`; in `observe` it is recorded and the request goes through.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from enum import StrEnum

from ongoingai.policy.modes import Mode
from ongoingai.policy.redactor import Redactor

BLOCKED_MESSAGE = "request blocked by pii policy"
UNCERTAIN_MESSAGE = "request denied by pii guardrail policy uncertainty"
TOO_LARGE = "body exceeds body_max_size"
UNPARSABLE_CONTENT_TYPE = "content type is unparsable"
UNSUPPORTED_CONTENT_TYPE = "content type is not json or text"
UNSUPPORTED_CHARSET = "charset is not utf-8"
ENCODED_BODY = "body has a content coding"

_TCHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_MEDIA_TYPE = re.compile(rf"\s*({_TCHARS})/({_TCHARS})\s*")
_PARAMETER = re.compile(rf"\s*({_TCHARS})\s*=\s*({_TCHARS}|\"(?:[^\"\\]|\\.)*\")\s*")
_UTF8_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})


class Action(StrEnum):
    ALLOW = "allow"
    REDACT = "redact"  # forward `Decision.body` instead of the original
    BLOCK = "block"  # 403
    DENY_UNCERTAIN = "deny_uncertain"  # 503


@dataclass(frozen=True, slots=True)
class Decision:
    """What the gateway must do with a request body, and what the inspection found.

    `body` is what to forward (the original unless `action` is REDACT). In `observe` mode `action` is
    always ALLOW and `counts`, `paths` and `error` say what `block` / `redact_upstream` would have done.
    """

    action: Action
    mode: Mode
    body: bytes
    counts: dict[str, int] = field(default_factory=dict)
    paths: tuple[str, ...] = ()
    error: str = ""
    inspected: bool = False

    @property
    def status_code(self) -> int | None:
        """403 / 503 for a denial, None when the request goes on."""
        return {Action.BLOCK: 403, Action.DENY_UNCERTAIN: 503}.get(self.action)

    @property
    def message(self) -> str:
        """The plain-text denial body (without its trailing newline); empty when not denied."""
        return {Action.BLOCK: BLOCKED_MESSAGE, Action.DENY_UNCERTAIN: UNCERTAIN_MESSAGE}.get(self.action, "")

    @property
    def reason(self) -> str:
        """The WARN log's `reason`: `pii_detected`, `policy_evaluation_failed`, or empty."""
        if self.error:
            return "policy_evaluation_failed"
        return "pii_detected" if self.counts else ""

    @property
    def audit_action(self) -> str | None:
        """The `pii.*` audit action for a non-trivial decision (DEVIATIONS.md "Audit records")."""
        if self.mode is Mode.OBSERVE:
            return "pii.observe" if self.reason else None
        return {
            Action.REDACT: "pii.redact",
            Action.BLOCK: "pii.block",
            Action.DENY_UNCERTAIN: "pii.deny_uncertain",
        }.get(self.action)

    @property
    def audit_outcome(self) -> str:
        if self.mode is Mode.OBSERVE and self.reason:
            return "observed"
        return {Action.REDACT: "redacted", Action.BLOCK: "denied", Action.DENY_UNCERTAIN: "denied"}.get(
            self.action, "allowed"
        )


def decide(
    redactor: Redactor,
    body: bytes,
    *,
    content_type: str,
    mode: Mode,
    workspace_id: str,
    content_encoding: str = "",
) -> Decision:
    """Inspect a provider request body under the effective mode.

    Only `redact_upstream`, `block` and `observe` inspect, and only with `pii.stages.request_body` on;
    every other case is ALLOW with the body untouched.
    """
    if not mode.inspects_requests or not redactor.stages.request_body or not body:
        return Decision(Action.ALLOW, mode, body)
    problem, require_json = _uncertainty(redactor, body, content_type, content_encoding)
    if problem:
        return _uncertain(mode, body, problem)
    result = redactor.redact_body(body, workspace_id=workspace_id, require_json=require_json)
    if result.error:
        return _uncertain(mode, body, result.error)
    if not result.counts or mode is Mode.OBSERVE:
        return Decision(Action.ALLOW, mode, body, result.counts, result.paths, inspected=True)
    if mode is Mode.BLOCK:
        return Decision(Action.BLOCK, mode, body, result.counts, result.paths, inspected=True)
    return Decision(Action.REDACT, mode, result.body, result.counts, result.paths, inspected=True)


def _uncertain(mode: Mode, body: bytes, error: str) -> Decision:
    action = Action.ALLOW if mode is Mode.OBSERVE else Action.DENY_UNCERTAIN
    return Decision(action, mode, body, error=error, inspected=True)


def _uncertainty(
    redactor: Redactor, body: bytes, content_type: str, content_encoding: str
) -> tuple[str, bool]:
    """(problem or "", whether the body must be JSON)."""
    if len(body) > redactor.body_max_size:
        return TOO_LARGE, False
    if content_encoding.strip().lower() not in ("", "identity"):
        # A compressed body is opaque to the detectors; forwarding it unread would be a bypass.
        return ENCODED_BODY, False
    return _media_verdict(content_type)


@functools.lru_cache(maxsize=256)
def _media_verdict(content_type: str) -> tuple[str, bool]:
    """`_uncertainty` for a `Content-Type`: a handful of distinct values, parsed once each."""
    if not content_type.strip():
        return "", False
    parsed = parse_content_type(content_type)
    if parsed is None:
        return UNPARSABLE_CONTENT_TYPE, False
    (kind, subtype), params = parsed
    is_json = (kind, subtype) == ("application", "json") or subtype.endswith("+json")
    if not is_json and kind != "text":
        return UNSUPPORTED_CONTENT_TYPE, False
    charset = params.get("charset", "utf-8").strip('"').lower()
    if charset not in _UTF8_CHARSETS:
        # UTF-16 text is valid UTF-8 byte for byte more often than not, and reads as noise to detectors.
        return UNSUPPORTED_CHARSET, False
    return "", is_json


def parse_content_type(value: str) -> tuple[tuple[str, str], dict[str, str]] | None:
    """((type, subtype), parameters) lower-cased, or None when it is not `type/subtype; k=v…`."""
    head, _, rest = value.partition(";")
    media = _MEDIA_TYPE.fullmatch(head)
    if media is None:
        return None
    params: dict[str, str] = {}
    for part in rest.split(";") if rest else ():
        if not part.strip():
            continue
        param = _PARAMETER.fullmatch(part)
        if param is None:
            return None
        params[param.group(1).lower()] = param.group(2)
    return (media.group(1).lower(), media.group(2).lower()), params
