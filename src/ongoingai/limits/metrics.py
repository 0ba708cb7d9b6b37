"""The limiter's OTel instruments: refusals by code and fail-open admissions (observed at collection).

Labels are the fixed limit codes and the backend name only (DEVIATIONS.md "Metric labels are bounded").
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

from ongoingai.limits.limiter import Limiter


def register_limit_metrics(provider: MeterProvider, limiter: Limiter) -> None:
    meter = provider.get_meter("ongoingai.gateway")

    def rejected(options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(count, {"code": code}) for code, count in sorted(limiter.rejected.items())]

    def failed_open(options: CallbackOptions) -> Iterable[Observation]:
        health = limiter.backend.health()
        return [Observation(int(health.get("fail_open_total", 0)), {"backend": limiter.backend.name})]

    meter.create_observable_counter(
        "ongoingai.limits.rejected_total", [rejected], description="Requests refused by a limit"
    )
    meter.create_observable_counter(
        "ongoingai.limits.fail_open_total",
        [failed_open],
        description="Requests admitted unchecked because the limits backend did not answer",
    )
