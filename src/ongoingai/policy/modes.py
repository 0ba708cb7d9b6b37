"""Effective PII mode (privacy-and-policy.md §2): the global mode, overridden by the most specific
matching `pii.scopes[]` entry.

The guardrail and the trace builder resolve with the same inputs; an unauthenticated request's org is
`default` on both paths (DEVIATIONS.md "PII scope matching"), so the two never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ongoingai.config.model import PiiScope, PiiSettings

DEFAULT_TENANT = "default"
DEFAULT_POLICY_ID = "default/v1"


class Mode(StrEnum):
    OFF = "off"
    REDACT_STORAGE = "redact_storage"
    REDACT_UPSTREAM = "redact_upstream"
    BLOCK = "block"
    OBSERVE = "observe"

    @property
    def redacts_storage(self) -> bool:
        """Stored bodies are redacted (stages and `capture_bodies` permitting)."""
        return self is not Mode.OFF

    @property
    def inspects_requests(self) -> bool:
        """The guardrail inspects request bodies (observe only records what it would have done)."""
        return self in (Mode.REDACT_UPSTREAM, Mode.BLOCK, Mode.OBSERVE)


class ModeError(ValueError):
    pass


def parse_mode(value: str) -> Mode:
    """Raises ModeError naming the five modes."""
    try:
        return Mode(value.strip().lower())
    except ValueError:
        raise ModeError(f"mode must be one of {', '.join(Mode)} (got {value!r})") from None


@dataclass(frozen=True, slots=True)
class PolicySubject:
    """Who is asking for what: the inputs of scope matching."""

    org_id: str = ""
    workspace_id: str = ""
    key_id: str = ""
    provider: str = ""
    path: str = "/"


@dataclass(frozen=True, slots=True)
class EffectivePolicy:
    mode: Mode
    policy_id: str
    scope_index: int | None = None  # which `pii.scopes[i]` applied, for the audit record


def normalise_prefix(prefix: str) -> str:
    """The provider-prefix rule: trimmed, leading `/`, no trailing `/` (except `/` itself)."""
    p = prefix.strip()
    if not p.startswith("/"):
        p = "/" + p
    return p.rstrip("/") or "/"


def path_under(path: str, prefix: str) -> bool:
    return prefix == "/" or path == prefix or path.startswith(prefix + "/")


@dataclass(frozen=True, slots=True)
class _Scope:
    org_id: str
    workspace_id: str
    key_id: str
    provider: str
    route_prefix: str
    mode: Mode | None
    policy_id: str
    specificity: int

    @classmethod
    def of(cls, scope: PiiScope) -> _Scope:
        m = scope.match
        selectors = (m.org_id.strip(), m.workspace_id.strip(), m.key_id.strip(), m.provider.strip())
        route = m.route_prefix.strip()
        specificity = sum(1 for s in (*selectors, route) if s)
        if not specificity:
            raise ModeError("a pii scope must set at least one selector")
        mode = parse_mode(scope.mode) if scope.mode.strip() else None
        prefix = normalise_prefix(route) if route else ""
        return cls(*selectors[:3], selectors[3].lower(), prefix, mode, scope.policy_id.strip(), specificity)

    def matches(self, s: PolicySubject) -> bool:
        return (
            (not self.org_id or self.org_id == s.org_id)
            and (not self.workspace_id or self.workspace_id == s.workspace_id)
            and (not self.key_id or self.key_id == s.key_id)
            and (not self.provider or self.provider == s.provider)
            and (not self.route_prefix or path_under(s.path, self.route_prefix))
        )


class ModeResolver:
    def __init__(self, mode: Mode, policy_id: str, scopes: tuple[_Scope, ...] = ()) -> None:
        self.mode = mode
        self.policy_id = policy_id
        self._scopes = scopes

    @classmethod
    def from_settings(cls, pii: PiiSettings, *, capture_bodies: bool) -> ModeResolver:
        """Raises ModeError for what config validation rejects (a bad mode, a scope without selector)."""
        raw = pii.mode.strip()
        mode = parse_mode(raw) if raw else Mode.REDACT_STORAGE if capture_bodies else Mode.OFF
        scopes = tuple(_Scope.of(scope) for scope in pii.scopes)
        return cls(mode, pii.policy_id.strip() or DEFAULT_POLICY_ID, scopes)

    def resolve(self, subject: PolicySubject) -> EffectivePolicy:
        s = PolicySubject(
            org_id=subject.org_id.strip() or DEFAULT_TENANT,
            workspace_id=subject.workspace_id.strip() or DEFAULT_TENANT,
            key_id=subject.key_id.strip(),
            provider=subject.provider.strip().lower(),
            path=subject.path,
        )
        best: tuple[int, _Scope] | None = None
        for i, scope in enumerate(self._scopes):
            if scope.matches(s) and (best is None or scope.specificity > best[1].specificity):
                best = (i, scope)  # ties: the first declared stays
        if best is None:
            return EffectivePolicy(self.mode, self.policy_id)
        i, scope = best
        return EffectivePolicy(scope.mode or self.mode, scope.policy_id or self.policy_id, i)
