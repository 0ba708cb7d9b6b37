"""`doctor`'s `limits` check (issue 8): which backend counts the limits, and whether it answers.

With auth off configured limits are never evaluated (warn). A Redis backend that does not answer is a
warning, not a failure: the gateway then serves and fails open (docs/limits.md "Failure modes").
"""

from __future__ import annotations

from ongoingai.cli.checks import NO_ACTION, Check
from ongoingai.config import Settings
from ongoingai.limits.rules import LimitRules, Thresholds


def _describe(scope: str, t: Thresholds) -> str:
    return (
        f"{scope}: requests_per_minute={t.requests_per_minute} max_tokens_per_day={t.tokens_per_day} "
        f"max_cost_usd_per_day={t.cost_usd_per_day:g} max_concurrent_requests={t.concurrent}"
    )


async def limits_check(settings: Settings) -> Check:
    rules = LimitRules.from_settings(settings.limits)
    backend = settings.limits.backend
    details = (
        f"backend: {backend}",
        _describe("per_key", rules.per_key),
        _describe("per_workspace", rules.per_workspace),
    )
    if not rules.enabled:
        return Check("limits", "pass", "no limits configured", NO_ACTION, details)
    if not settings.auth.enabled:
        hint = "set auth.enabled=true: limits need a gateway key identity"
        return Check(
            "limits", "warn", "limits are configured but never evaluated (auth disabled)", hint, details
        )
    if backend == "memory":
        note = "counters are per process: N gateway instances admit N times each limit"
        hint = "use limits.backend: redis when several instances serve the same keys"
        return Check("limits", "pass", "limits use the in-process memory backend", hint, (*details, note))
    from ongoingai.limits.redis_backend import ping  # the Redis client only when it is configured

    if await ping(settings.limits.redis_url.get_secret_value().strip()):
        return Check("limits", "pass", "redis limits backend answers", NO_ACTION, details)
    hint = "check limits.redis_url and that Redis answers; until then the gateway admits requests unchecked"
    return Check("limits", "warn", "redis limits backend is unreachable (gateway fails open)", hint, details)
