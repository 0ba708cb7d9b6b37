"""What the limiter enforces: the thresholds of `limits.*`, the subjects they apply to, and the answers.

Codes, messages and the evaluation order are limits.md §3 and §5; the two concurrency codes are issue 8's
additions and come last. A threshold <= 0 is off (limits.md §1).
"""

from __future__ import annotations

from dataclasses import dataclass

from ongoingai.config.model import LimitRule, LimitsSettings

# limits.md §5, in evaluation order (§3): daily quotas, then request rate, then (issue 8) concurrency.
KEY_DAILY_TOKENS = "KEY_DAILY_TOKENS_EXCEEDED"
KEY_DAILY_COST = "KEY_DAILY_COST_EXCEEDED"
WORKSPACE_DAILY_TOKENS = "WORKSPACE_DAILY_TOKENS_EXCEEDED"
WORKSPACE_DAILY_COST = "WORKSPACE_DAILY_COST_EXCEEDED"
KEY_RATE = "KEY_RATE_LIMIT_EXCEEDED"
WORKSPACE_RATE = "WORKSPACE_RATE_LIMIT_EXCEEDED"
KEY_CONCURRENCY = "KEY_CONCURRENCY_LIMIT_EXCEEDED"
WORKSPACE_CONCURRENCY = "WORKSPACE_CONCURRENCY_LIMIT_EXCEEDED"

CODES = (
    KEY_DAILY_TOKENS,
    KEY_DAILY_COST,
    WORKSPACE_DAILY_TOKENS,
    WORKSPACE_DAILY_COST,
    KEY_RATE,
    WORKSPACE_RATE,
    KEY_CONCURRENCY,
    WORKSPACE_CONCURRENCY,
)
MESSAGES = {
    KEY_RATE: "request rate limit exceeded for key",
    WORKSPACE_RATE: "request rate limit exceeded for workspace",
    KEY_DAILY_TOKENS: "daily token limit exceeded for key",
    KEY_DAILY_COST: "daily cost limit exceeded for key",
    WORKSPACE_DAILY_TOKENS: "daily token limit exceeded for workspace",
    WORKSPACE_DAILY_COST: "daily cost limit exceeded for workspace",
    KEY_CONCURRENCY: "concurrent request limit exceeded for key",
    WORKSPACE_CONCURRENCY: "concurrent request limit exceeded for workspace",
}
GENERIC_MESSAGE = "gateway usage limit exceeded"
UNAVAILABLE_MESSAGE = "gateway usage limit check unavailable"
WINDOW_S = 60


@dataclass(frozen=True, slots=True)
class Thresholds:
    """One scope's thresholds, each 0 when off."""

    requests_per_minute: int = 0
    tokens_per_day: int = 0
    cost_usd_per_day: float = 0.0
    concurrent: int = 0

    @classmethod
    def from_rule(cls, rule: LimitRule) -> Thresholds:
        return cls(
            requests_per_minute=max(rule.requests_per_minute, 0),
            tokens_per_day=max(rule.max_tokens_per_day, 0),
            cost_usd_per_day=max(rule.max_cost_usd_per_day, 0.0),
            concurrent=max(rule.max_concurrent_requests, 0),
        )

    @property
    def daily(self) -> bool:
        return self.tokens_per_day > 0 or self.cost_usd_per_day > 0

    @property
    def any(self) -> bool:
        return self.daily or self.requests_per_minute > 0 or self.concurrent > 0


@dataclass(frozen=True, slots=True)
class LimitRules:
    per_key: Thresholds = Thresholds()
    per_workspace: Thresholds = Thresholds()

    @classmethod
    def from_settings(cls, limits: LimitsSettings) -> LimitRules:
        return cls(Thresholds.from_rule(limits.per_key), Thresholds.from_rule(limits.per_workspace))

    @property
    def enabled(self) -> bool:
        """limits.md §2: with every threshold off the limiter is disabled."""
        return self.per_key.any or self.per_workspace.any

    @property
    def daily(self) -> bool:
        return self.per_key.daily or self.per_workspace.daily

    @property
    def concurrent(self) -> bool:
        return self.per_key.concurrent > 0 or self.per_workspace.concurrent > 0


@dataclass(frozen=True, slots=True)
class Subject:
    """The scopes one request is counted in. Ids only (org, workspace, key id): never a token."""

    key: str  # `org|workspace|key_id`: rate and concurrency windows (limits.md §3.2)
    workspace: str  # `org|workspace`
    key_usage: str  # day-usage scope of the key: the workspace's when the key id is empty (limits.md §3.1)
    workspace_usage: str

    @classmethod
    def of(cls, org_id: str, workspace_id: str, key_id: str) -> Subject:
        workspace = f"{org_id}|{workspace_id}"
        workspace_usage = "w:" + workspace
        key_usage = f"k:{workspace}|{key_id}" if key_id else workspace_usage
        return cls(f"{workspace}|{key_id}", workspace, key_usage, workspace_usage)


@dataclass(frozen=True, slots=True)
class Denial:
    """A refused request: 429 with a code, or 503 when the daily usage is not known (fail closed)."""

    status: int
    code: str = ""
    retry_after_s: int | None = None

    @property
    def message(self) -> str:
        if self.status == 503:
            return UNAVAILABLE_MESSAGE
        return MESSAGES.get(self.code, GENERIC_MESSAGE)

    @property
    def audit_reason(self) -> str:
        """The auth-deny log's `audit_reason` (auth-and-tenancy.md §7 step g)."""
        return "usage_limit_check_unavailable" if self.status == 503 else "usage_limit_exceeded"


UNAVAILABLE = Denial(503)


def denied(code: str, retry_after_s: int | None = None) -> Denial:
    return Denial(429, code, retry_after_s)
