"""Bodies for a stored trace (privacy-and-policy.md §3, §5, §7): stage by stage, drop both on error."""

from __future__ import annotations

import pytest

from ongoingai.policy import FAILURE_SEMANTICS, Mode, Redactor, redact_for_storage
from ongoingai.policy.codec import INVALID_UTF8
from tests.policy.conftest import make_redactor

REQUEST = b'{"messages":[{"content":"alice@example.com"}],"api_key":"k"}'
RESPONSE = b'{"choices":[{"message":{"content":"call 415-555-2671"}}]}'
STREAM = (
    b'data: {"choices":[{"delta":{"content":"alice@"}}]}\n\n'
    b'data: {"choices":[{"delta":{"content":"example.com"}}]}\n\n'
)


def store(redactor: Redactor, mode: Mode = Mode.REDACT_STORAGE, **kw: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {"request_body": REQUEST, "response_body": RESPONSE, **kw}
    return redact_for_storage(redactor, mode=mode, workspace_id="w", **args)  # type: ignore[arg-type]


def test_mode_off_stores_raw(redactor: Redactor) -> None:
    stored = store(redactor, Mode.OFF, response_body=b"\xffraw")
    assert (stored.request_body, stored.response_body) == (REQUEST.decode(), "\ufffdraw")
    assert stored.metadata() == {}


@pytest.mark.parametrize("mode", [Mode.REDACT_STORAGE, Mode.REDACT_UPSTREAM, Mode.BLOCK, Mode.OBSERVE])
def test_every_other_mode_redacts_both_bodies(redactor: Redactor, mode: Mode) -> None:
    stored = store(redactor, mode)
    assert "alice" not in stored.request_body
    assert "415-555-2671" not in stored.response_body
    assert stored.counts == {"email": 1, "phone": 1, "field_name": 1}
    assert stored.paths == ("$.messages[0].content", "$.api_key", "$.choices[0].message.content")
    assert stored.metadata() == {"redaction_counts": {"email": 1, "phone": 1, "field_name": 1}}


def test_streamed_responses_keep_their_framing(redactor: Redactor) -> None:
    stored = store(redactor, response_body=STREAM, response_stream=True)
    assert stored.response_body.count("data: ") == 2
    assert '"content":""' in stored.response_body
    assert stored.counts["email"] == 2


def test_a_request_error_drops_both_bodies_and_skips_the_response(redactor: Redactor) -> None:
    stored = store(redactor, request_body=b"\xff")
    assert (stored.request_body, stored.response_body, stored.storage_drop, stored.error) == (
        "",
        "",
        True,
        INVALID_UTF8,
    )
    assert stored.metadata() == {
        "redaction_storage_drop": True,
        "redaction_failure_semantics": FAILURE_SEMANTICS,
    }


def test_a_response_error_drops_both_bodies(redactor: Redactor) -> None:
    stored = store(redactor, response_body=b'{"a":1,"a":2}')
    assert (stored.request_body, stored.response_body, stored.storage_drop) == ("", "", True)


def test_truncation_is_flagged_for_redacted_bodies(redactor: Redactor) -> None:
    stored = store(redactor, response_truncated=True, response_body=RESPONSE[:-5])
    assert stored.truncated
    assert stored.metadata()["redaction_truncated"] is True
    assert "415-555-2671" not in stored.response_body


def test_disabled_stages_store_that_body_raw() -> None:
    redactor = make_redactor(stages={"request_body": False, "response_body": False})
    stored = store(redactor, request_truncated=True)
    assert (stored.request_body, stored.response_body) == (REQUEST.decode(), RESPONSE.decode())
    assert (stored.counts, stored.truncated) == ({}, False)
    only_response = make_redactor(stages={"request_body": False})
    assert store(only_response).counts == {"phone": 1}
