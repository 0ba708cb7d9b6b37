"""`doctor`'s `limits` check (issue 8): the backend, the thresholds, and whether Redis answers."""

from __future__ import annotations

from typing import Any

import pytest

from ongoingai.cli.limits_check import limits_check
from ongoingai.config import Settings
from tests.fakes.servers import free_port

AUTH = {"enabled": True, "keys": [{"id": "a", "token": "gwk_doctor_limits_1"}]}
RPM = {"per_key": {"requests_per_minute": 5}}


def settings(**sections: Any) -> Settings:
    return Settings.model_validate(sections)


@pytest.mark.parametrize(
    ("sections", "status", "summary"),
    [
        ({}, "pass", "no limits configured"),
        ({"limits": RPM}, "warn", "limits are configured but never evaluated (auth disabled)"),
        ({"limits": RPM, "auth": AUTH}, "pass", "limits use the in-process memory backend"),
    ],
    ids=["none", "auth-off", "memory"],
)
async def test_config_only_outcomes(sections: dict[str, Any], status: str, summary: str) -> None:
    check = await limits_check(settings(**sections))
    assert (check.name, check.status, check.summary) == ("limits", status, summary)
    assert check.details[0].startswith("backend: ")
    assert "per_key: requests_per_minute=" in check.details[1]


@pytest.mark.redis
async def test_a_redis_backend_that_answers_passes(redis_url: str) -> None:
    limits = {**RPM, "backend": "redis", "redis_url": redis_url}
    check = await limits_check(settings(limits=limits, auth=AUTH))
    assert (check.status, check.summary) == ("pass", "redis limits backend answers")


async def test_an_unreachable_redis_warns_without_quoting_the_url() -> None:
    url = f"redis://:hunter2secret@127.0.0.1:{free_port()}/0"  # nothing listens there
    limits = {**RPM, "backend": "redis", "redis_url": url}
    check = await limits_check(settings(limits=limits, auth=AUTH))
    assert (check.status, check.summary) == (
        "warn",
        "redis limits backend is unreachable (gateway fails open)",
    )
    assert "hunter2secret" not in repr(check)
