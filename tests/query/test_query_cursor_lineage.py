"""Pure read-side pieces: cursor encoding (a property) and the lineage view (a table)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ongoingai.query import Cursor, CursorError, decode_cursor, encode_cursor, format_rfc3339, lineage_view
from tests.fakes.trace_records import make_record, trace_id


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@given(
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)),  # noqa: DTZ001
    st.text(min_size=1).filter(lambda s: "\x00" not in s),
)
def test_cursors_round_trip(created_at: datetime, trace: str) -> None:
    cursor = Cursor(created_at, trace)

    encoded = encode_cursor(cursor)

    assert "=" not in encoded
    assert decode_cursor(encoded) == cursor


def test_a_cursor_is_base64url_of_time_and_id() -> None:
    cursor = Cursor(datetime(2025, 1, 2, 3, 4, 5, 120000, tzinfo=UTC), "abc")

    assert encode_cursor(cursor) == b64("2025-01-02T03:04:05.12Z|abc")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("***", "decode base64 cursor"),
        ("a", "decode base64 cursor"),
        (b64("2025-01-02T03:04:05Z"), "missing id"),
        (b64("2025-01-02T03:04:05Z|"), "missing id"),
        (b64("yesterday|abc"), "parse created_at"),
        (b64("2025-13-02T03:04:05Z|abc"), "parse created_at"),
    ],
)
def test_bad_cursors_say_why(text: str, reason: str) -> None:
    with pytest.raises(CursorError) as info:
        decode_cursor(text)

    assert str(info.value) == reason


def test_go_style_nanosecond_cursors_are_accepted() -> None:
    assert decode_cursor(b64("2025-01-02T03:04:05.123456789Z|x")).created_at.microsecond == 123456


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC), "2025-01-02T03:04:05Z"),
        (datetime(2025, 1, 2, 3, 4, 5, 100000, tzinfo=UTC), "2025-01-02T03:04:05.1Z"),
        (datetime(2025, 1, 2, 3, 4, 5, 123456, tzinfo=UTC), "2025-01-02T03:04:05.123456Z"),
    ],
)
def test_times_are_rfc3339_utc_with_trimmed_fractions(value: datetime, text: str) -> None:
    assert format_rfc3339(value) == text


@pytest.mark.parametrize(
    ("metadata", "group", "expected"),
    [
        ({}, None, {"checkpoint_id": trace_id(1), "immutable": True}),
        ({}, "g-col", {"group_id": "g-col", "checkpoint_id": trace_id(1), "immutable": True}),
        (
            {
                "lineage_group_id": "g-meta",
                "lineage_thread_id": "t",
                "lineage_run_id": "r",
                "lineage_checkpoint_id": "c",
                "lineage_parent_checkpoint_id": "p",
                "lineage_checkpoint_seq": 3,
                "lineage_immutable": True,
            },
            "g-col",
            {
                "group_id": "g-meta",
                "thread_id": "t",
                "run_id": "r",
                "checkpoint_id": "c",
                "parent_checkpoint_id": "p",
                "checkpoint_seq": 3,
                "immutable": True,
            },
        ),
        (
            {"lineage_checkpoint_seq": "7"},
            None,
            {"checkpoint_id": trace_id(1), "checkpoint_seq": 7, "immutable": True},
        ),
        (
            {"lineage_checkpoint_seq": 0, "lineage_thread_id": ""},
            None,
            {"checkpoint_id": trace_id(1), "immutable": True},
        ),
        ({"lineage_checkpoint_seq": "x"}, None, {"checkpoint_id": trace_id(1), "immutable": True}),
        ({"lineage_immutable": "false"}, None, {"checkpoint_id": trace_id(1), "immutable": False}),
        ({"lineage_immutable": "maybe"}, None, {"checkpoint_id": trace_id(1), "immutable": True}),
    ],
    ids=[
        "empty",
        "group-column",
        "all-fields",
        "seq-string",
        "zero-and-empty",
        "bad-seq",
        "false-string",
        "junk",
    ],
)
def test_lineage_view(metadata: dict[str, Any], group: str | None, expected: dict[str, Any]) -> None:
    record = make_record(1, metadata=metadata, trace_group_id=group)

    assert lineage_view(record).as_dict() == expected
