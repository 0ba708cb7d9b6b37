"""The detectors' fast scans find exactly what their plain definitions find.

`find_secrets` locates prefixes with one scan per anchor character; here it is compared with the plain
definition (every format, every occurrence of its prefix found by `str.find`). The number detectors skip
windows they have already found clean and the field rules skip keys they have already found unmatched:
here warm ones are compared with fresh ones.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ongoingai.config.model import DEFAULT_KEY_DENYLIST
from ongoingai.policy.credentials import _ALNUM, SECRET_FORMATS, find_secrets, prefix_starts
from ongoingai.policy.detectors import _MAX_CLEAN_WINDOWS, Detectors, Kind, window_key
from ongoingai.policy.numeric import CLUSTER, number_windows
from ongoingai.policy.rules import _KNOWN_KEYS, FieldRules

SETTINGS = settings(
    derandomize=True,
    database=None,
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
PREFIXES = [fmt.prefix for fmt in SECRET_FORMATS]
BODIES = ["Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z", "live_abcdefghij12", "IOSFODNN7EXAMPLE", "x", "0", "-", "_"]
TEXT = st.lists(
    st.sampled_from(PREFIXES + BODIES) | st.text(alphabet="skrpAIzaKSxoghu_-.J eyBEGIN", max_size=5),
    max_size=10,
).map("".join)


def reference_starts(text: str) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for i, prefix in enumerate(PREFIXES):
        at = text.find(prefix)
        while at != -1:
            out.setdefault(i, []).append(at)
            at = text.find(prefix, at + 1)
    return out


def reference_secrets(text: str) -> list[tuple[int, int]]:
    """`find_secrets` as first written: per format, per occurrence, by `str.find`."""
    if len(text) < 15:
        return []
    spans: list[tuple[int, int]] = []
    for fmt in SECRET_FORMATS:
        at = text.find(fmt.prefix)
        while at != -1:
            resume = at + 1
            if at == 0 or text[at - 1] not in _ALNUM:
                m = fmt.pattern.match(text, at)
                if m:
                    spans.append(m.span())
                    resume = m.end()
            at = text.find(fmt.prefix, resume)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


@SETTINGS
@given(TEXT)
def test_prefixes_are_found_wherever_str_find_finds_them(text: str) -> None:
    assert prefix_starts(text) == reference_starts(text)


@SETTINGS
@given(TEXT)
def test_find_secrets_is_its_plain_definition(text: str) -> None:
    assert find_secrets(text) == reference_secrets(text)


def test_overlapping_prefixes_are_all_found() -> None:
    text = "xoxoxb-sk-----BEGIN ghp_sk_"
    assert prefix_starts(text) == reference_starts(text)
    assert {PREFIXES[i] for i in prefix_starts(text)} >= {"xox", "sk-", "-----BEGIN", "ghp_", "sk_"}


NUMBERS = st.lists(
    st.sampled_from(
        [
            "(415) 555-2671",
            "415-555-2671",
            "+44 20 7946 0958",
            "123-45-6789",
            "4111 1111 1111 1111",
            "2024-07-18",
        ]
        + ["1741569952", "v2.3.1", "378282246310005", "4111-1111-1111-1111 123", "x", " ", "-", "(", "."]
    )
    | st.text(alphabet="0123456789 -().+x", max_size=6),
    max_size=8,
).map("".join)
WARM = Detectors()


@SETTINGS
@given(NUMBERS)
def test_a_detector_that_remembers_clean_windows_finds_what_a_fresh_one_finds(text: str) -> None:
    expected = Detectors().find(text)
    assert WARM.find(text) == expected
    assert WARM.find(text) == expected  # its windows now remembered, when clean
    assert WARM.finds_any(text) == bool(expected)


def test_clean_windows_are_remembered_within_a_bound() -> None:
    detectors = Detectors()
    many = "x".join(f"{i:08d}" for i in range(_MAX_CLEAN_WINDOWS + 1))  # one clean window each
    assert detectors.find(many) == []
    assert len(detectors._clean_windows) == _MAX_CLEAN_WINDOWS
    phone = "call (415) 555-2671"
    assert [m.kind for m in detectors.find(phone)] == [Kind.PHONE]
    assert len(detectors._clean_windows) == 0  # full: forgotten, and the phone's window never remembered
    assert detectors.find("on 2024-07-18") == []
    assert window_key("on 2024-07-18", (1, 13, 8)) in detectors._clean_windows


@SETTINGS
@given(NUMBERS | st.text(alphabet="0123456789 -().+xé²\u00a0\u2014😀", max_size=40))
def test_number_windows_are_the_clusters_of_the_plain_pattern(text: str) -> None:
    expected = []
    for m in re.finditer(CLUSTER, text, re.ASCII):
        digits = sum(ch.isdigit() for ch in m.group())
        if digits >= 7:
            expected.append((max(0, m.start() - 2), min(len(text), m.end() + 2), digits))
    assert number_windows(text) == expected


def test_keys_no_rule_takes_are_remembered_within_a_bound() -> None:
    rules = FieldRules(DEFAULT_KEY_DENYLIST)
    assert not rules.any_matches({"model", "max_tokens"})
    assert not rules.any_matches({"model"})  # known: no rule asked
    assert rules.any_matches({"model", "user_email"})
    assert rules.any_matches({"user_email"})  # a key a rule takes is never remembered as unmatched
    many = {f"k{i}" for i in range(_KNOWN_KEYS + 1)}
    assert not rules.any_matches(many)  # too many to remember: forgotten, and the memory emptied
    assert rules._unmatched == set()
    assert not rules.any_matches({"model"})
    assert rules._unmatched == {"model"}


def test_a_long_text_with_few_digits_is_counted_before_it_is_scanned() -> None:
    assert Detectors().find("call me at 555 " + "x" * 600) == []
    assert Detectors().find("x" * 600 + " (415) 555-2671")[0].kind == Kind.PHONE
