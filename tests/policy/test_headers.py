"""Stored-header redaction (privacy-and-policy.md §4; DEVIATIONS.md: `auth.header` is always built in)."""

from __future__ import annotations

from ongoingai.config.model import PiiSettings
from ongoingai.policy import REDACTED, Redactor
from tests.policy.conftest import make_redactor

REQUEST = [
    (b"authorization", b"Bearer sk-x"),
    (b"content-type", b"application/json"),
    (b"cookie", b"a=1"),
    (b"cookie", b"b=2"),
    (b"x-trace", b"t1"),
    (b"x-trace", b"t2"),
]


def test_builtin_headers_are_redacted_whole_and_counted(redactor: Redactor) -> None:
    stored = redactor.redact_headers(REQUEST)
    assert stored.headers == {
        "Authorization": [REDACTED],
        "Content-Type": ["application/json"],
        "Cookie": [REDACTED],
        "X-Trace": ["t1", "t2"],
    }
    assert stored.redacted == 3


def test_names_match_case_insensitively_and_str_pairs_work(redactor: Redactor) -> None:
    stored = redactor.redact_headers(
        [("X-API-KEY", "k"), ("Set-Cookie", "s"), ("X-OngoingAI-Gateway-Key", "g")]
    )
    assert stored.headers == {
        "X-Api-Key": [REDACTED],
        "Set-Cookie": [REDACTED],
        "X-Ongoingai-Gateway-Key": [REDACTED],
    }
    assert stored.redacted == 3


def test_configured_auth_header_is_always_builtin() -> None:
    pii = PiiSettings.model_validate({"headers": {"denylist": []}, "stages": {"request_headers": False}})
    redactor = Redactor.from_settings(pii, " X-Team-Key ")
    stored = redactor.redact_headers([(b"x-team-key", b"gwk_live_secret"), (b"x-other", b"v")])
    assert stored.headers == {"X-Team-Key": [REDACTED], "X-Other": ["v"]}


def test_custom_denylist_applies_per_stage() -> None:
    redactor = make_redactor(
        headers={"denylist": [" X-User-Email ", ""]},
        stages={"request_headers": True, "response_headers": False},
    )
    headers = [(b"x-user-email", b"a@b.co"), (b"authorization", b"x")]
    assert redactor.redact_headers(headers).redacted == 2
    response = redactor.redact_headers(headers, response=True)
    assert response.headers["X-User-Email"] == ["a@b.co"]
    assert response.redacted == 1


def test_default_custom_list_equals_the_builtin_one(redactor: Redactor) -> None:
    assert redactor.redact_headers([(b"x-api-key", b"k")], response=True).redacted == 1
