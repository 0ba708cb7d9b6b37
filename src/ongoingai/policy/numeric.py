"""Number-shaped detectors: phone numbers, US SSNs and payment cards.

One cheap scan finds clusters of digits and separators; the precise patterns run only inside them.
Precision is the point: token counts, timestamps, versions, dates and order ids must survive. Phone
candidates are validated by `phonenumbers` (DEVIATIONS.md "Redaction details"); cards by IIN and Luhn.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator

# Runs of digits and separators, `[0-9][0-9 ().+\-]{6,}`, found in the text's classes: each character
# mapped one for one to `0` (digit), ` ` (separator) or `x` (anything else, a non-Latin-1 one included).
# A pattern that starts with a literal scans twice as fast as one that starts with a set.
CLUSTER = r"[0-9][0-9 ().+\-]{6,}"
_CLASSES = bytes(48 if c in b"0123456789" else 32 if c in b" ().+-" else 120 for c in range(256))
_CLUSTER_OF_CLASSES = re.compile(rb"0[0 ]{6,}")
_SSN = re.compile(r"(?<![\w\-])(?!000|666|9)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w\-])", re.ASCII)
# Printed groupings only: 13-19 digits in one run, 4-4-4-4 (with a 19-digit card's 3-digit tail), or the
# 4-6-5 / 4-6-4 of Amex and Diners. Random counts such as `6353 4665 5694 8` are not a card layout.
_CARD = re.compile(
    r"(?<![\w.,+\-/])"
    r"(?:\d{13,19}"
    r"|\d{4}(?P<a>[ \-])\d{4}(?P=a)\d{4}(?P=a)\d{4}(?P<tail>(?P=a)\d{3})?"
    r"|\d{4}(?P<b>[ \-])\d{6}(?P=b)\d{4,5})"
    r"(?![\w+\-/]|[.,]\d)",
    re.ASCII,
)
_FOUR_SIX_SCHEMES = frozenset({"34", "37", "36", "38", "39", "30"})
# Up to seven groups of digits (or a parenthesised area code) joined by one separator, and nothing more
# after them: possessive and bounded, so each start costs O(1) and a long list of numbers yields
# candidates only at its tail. A rejected candidate is retried without its trailing groups.
_GROUP = r"(?:\(\d{1,5}\)|\d++)"
_PHONE = re.compile(
    rf"(?<![\w+.\-/(@#$%])(?:\+ ?)?{_GROUP}(?:(?:[ .\-]|(?<=\)) ?| ?(?=\()){_GROUP}){{0,6}}+"
    r"(?![\w/@(]|[ .:\-]\(?\d)",
    re.ASCII,
)
# Without one of these a candidate is a single run of digits (groups need a separator between them).
_PHONE_PUNCTUATION = re.compile(r"[+ .()\-]")
_GROUP_END = re.compile(r"\(\d+\)|\d+", re.ASCII)
_NON_DIGIT = re.compile(r"\D", re.ASCII)
_DATE = re.compile(r"\d{4}[-.]\d{1,2}[-.]\d{1,2}|\d{1,2}[-.]\d{1,2}[-.]\d{2,4}(?!\d)", re.ASCII)
_DIGITS = "0123456789"
_MIN_PHONE_DIGITS = 7  # national numbers; international ones need 8
Window = tuple[int, int, int]  # (pos, endpos, digits of the cluster)


def enough_digits(text: str, least: int = 7) -> bool:
    """At least `least` digits (the shortest phone number): most prose stops here, before any regex."""
    total = 0
    for d in _DIGITS:
        total += text.count(d)
        if total >= least:
            return True
    return False


def number_windows(text: str) -> list[Window]:
    """(pos, endpos, digits) around each cluster of at least 7 digits, with two characters of context."""
    size = len(text)
    windows: list[Window] = []
    classes = text.encode("latin-1", "replace").translate(_CLASSES)
    if classes.count(b"0") < 7:
        return windows
    count = classes.count
    for m in _CLUSTER_OF_CLASSES.finditer(classes):
        start, end = m.span()
        digits = count(48, start, end)  # b"0", counted in place rather than in a copy of the cluster
        if digits >= 7:
            windows.append((start - 2 if start > 2 else 0, end + 2 if end + 2 < size else size, digits))
    return windows


def find_ssns(text: str, windows: list[Window]) -> Iterator[tuple[int, int]]:
    for pos, endpos, digits in windows:
        if digits < 9 or text.find("-", pos, endpos) == -1:
            continue
        for m in _SSN.finditer(text, pos, endpos):
            yield m.span()


def find_cards(text: str, windows: list[Window]) -> Iterator[tuple[int, int]]:
    for pos, endpos, digits in windows:
        if digits >= 13:
            yield from _validated(text, _CARD, pos, endpos, _card_end)


def find_phones(text: str, windows: list[Window], region: str) -> Iterator[tuple[int, int]]:
    # `_validated` with `_phone_end`, written out: a number-dense body has tens of thousands of windows,
    # and a generator and two calls per window were most of its cost.
    search = _PHONE.search
    for pos, endpos, _ in windows:
        if _PHONE_PUNCTUATION.search(text, pos, endpos) is None:
            continue  # digits alone: every candidate is one bare run, which `_phone_end` always rejects
        m = search(text, pos, endpos)
        while m is not None:
            end = _phone_end(m, region)
            if end is None:
                m = search(text, m.start() + 1, endpos)
            else:
                yield m.start(), end
                m = search(text, end, endpos)


def _validated(
    text: str, pattern: re.Pattern[str], pos: int, endpos: int, end_of: Callable[[re.Match[str]], int | None]
) -> Iterator[tuple[int, int]]:
    """Candidates confirmed by `end_of`. A rejected candidate consumes only its first character, so a
    card or phone right after another number (`ref 2024 4111 1111 1111 1111`) is still tried."""
    m = pattern.search(text, pos, endpos)
    while m is not None:
        end = end_of(m)
        if end is None:
            m = pattern.search(text, m.start() + 1, endpos)
        else:
            yield m.start(), end
            m = pattern.search(text, end, endpos)


def _card_end(m: re.Match[str]) -> int | None:
    digits = _NON_DIGIT.sub("", m.group())
    if m.group("b") is not None and digits[:2] not in _FOUR_SIX_SCHEMES:
        return None  # the 4-6-5 / 4-6-4 layout is Amex's and Diners Club's alone
    if is_card_number(digits):
        return m.end()
    tail = m.start("tail")
    if tail >= 0 and is_card_number(_NON_DIGIT.sub("", m.string[m.start() : tail])):
        return tail  # a 16-digit card followed by a CVV or a count
    return None


def _phone_end(m: re.Match[str], region: str) -> int | None:
    candidate = m.group()
    if len(candidate) < _MIN_PHONE_DIGITS or candidate.isdigit():
        # What `_phone_length` would conclude, without its cache and loop (most of a number-dense body):
        # fewer than 7 characters hold fewer than 7 digits, and a bare digit run is one group, never a phone.
        return None
    length = _phone_length(candidate, region)
    return None if length is None else m.start() + length


@functools.lru_cache(maxsize=8192)
def _phone_length(candidate: str, region: str) -> int | None:
    """Length of the longest phone number that starts the candidate, trying whole groups only:
    `415-555-2671 415-555-2672` and `415 555 2671 2 times` yield their first phone number."""
    for end in reversed([g.end() for g in _GROUP_END.finditer(candidate)]):
        if _is_phone(candidate[:end], region):
            return end
    return None


def _is_phone(candidate: str, region: str) -> bool:
    digits = _NON_DIGIT.sub("", candidate)
    if candidate.startswith("+"):
        if not 8 <= len(digits) <= 15:
            return False
    elif not _plausible_national(candidate, digits):
        return False
    return _valid_phone(candidate, region)


def _plausible_national(candidate: str, digits: str) -> bool:
    if not _MIN_PHONE_DIGITS <= len(digits) <= 15:
        return False
    if candidate == digits:
        return False  # a bare digit run is an id, a count or a timestamp as often as a phone number
    if _DATE.match(candidate):
        return False  # `2024-01-15` is a valid German number
    if "." in candidate:
        # `415.555.2671` yes; versions (`10.15.7`), IPs and mixed `22.04-1234567` no.
        if any(sep in candidate for sep in " -()"):
            return False
        return all(len(group) >= 2 for group in candidate.split("."))
    return True


def _valid_phone(candidate: str, region: str) -> bool:
    # Imported by the first phone candidate, not at start-up (~40 ms, ~3 MB; issue 2 "Performance").
    import phonenumbers

    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return False
    if not phonenumbers.is_valid_number(number):
        return False
    # Valid digits are not enough: `12 2024 2024 3` parses as a US number. The library's own grouping
    # check (its formats and alternates per country) must accept the way the digits are grouped.
    digits = _NON_DIGIT.sub("", candidate)
    strict = phonenumbers.Leniency.STRICT_GROUPING
    matches = phonenumbers.PhoneNumberMatcher(candidate, region, leniency=strict)
    return any(_NON_DIGIT.sub("", match.raw_string) == digits for match in matches)


def is_card_number(digits: str) -> bool:
    """IIN range and length of a major scheme, then the Luhn checksum."""
    return _known_iin(digits) and luhn_ok(digits)


def _known_iin(d: str) -> bool:
    n = len(d)
    p2, p3, p4 = int(d[:2]), int(d[:3]), int(d[:4])
    if d[0] == "4":  # Visa
        return n in (13, 16, 19)
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:  # Mastercard
        return n == 16
    if p2 in (34, 37):  # American Express
        return n == 15
    if p2 in (36, 38, 39) or 300 <= p3 <= 305:  # Diners Club
        return 14 <= n <= 19
    if 3528 <= p4 <= 3589:  # JCB
        return 16 <= n <= 19
    # Discover, UnionPay, Maestro (60-69, 50, 56-58). Unix timestamps start with 1: never a card.
    return (d[0] == "6" or p2 in (50, 56, 57, 58)) and 13 <= n <= 19


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0
