"""The detector set: which spans of a string hold an email, phone, SSN, secret or card number.

Every detector can be switched off (`pii.detectors.*`). Overlaps are resolved by priority, secrets
first: a PEM block or an API key that happens to contain a phone-like run is replaced whole.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from ongoingai.config.model import PiiDetectors
from ongoingai.policy.credentials import MIN_SECRET_LENGTH, find_secrets
from ongoingai.policy.numeric import (
    Window,
    enough_digits,
    find_cards,
    find_phones,
    find_ssns,
    number_windows,
)


class Kind(StrEnum):
    """A detector class; the value is its `redaction_counts` key."""

    TOKEN = "token_like"  # noqa: S105 - a count key, not a credential
    EMAIL = "email"
    CARD = "card"
    SSN = "ssn"
    PHONE = "phone"


PLACEHOLDER_TYPE = {
    Kind.TOKEN: "TOKEN",
    Kind.EMAIL: "EMAIL",
    Kind.CARD: "CARD",
    Kind.SSN: "SSN",
    Kind.PHONE: "PHONE",
}
MIN_MATCH_LENGTH = 6  # `a@b.co`
_MIN_NUMBER_LENGTH = 7
WindowKey = tuple[bool, str, int]
_MAX_CLEAN_WINDOWS = 16384
_SHORT_TEXT = 512

# The spec's email pattern, found from each `@` outward so a long run without one costs nothing.
_LOCAL_TAIL = re.compile(r"[a-z0-9._%+\-]{1,64}\Z", re.IGNORECASE | re.ASCII)
_DOMAIN = re.compile(r"[a-z0-9.\-]{1,253}\.[a-z]{2,63}\b", re.IGNORECASE | re.ASCII)


@dataclass(frozen=True, slots=True)
class Match:
    start: int
    end: int
    kind: Kind


def find_emails(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    at = text.find("@")
    while at != -1:
        resume = at + 1
        local = _LOCAL_TAIL.search(text, max(0, at - 64), at)
        domain = _DOMAIN.match(text, at + 1) if local else None
        if local and domain:
            start = local.start()
            while start < at and not text[start].isalnum():
                start += 1  # the spec's leading `\b`: `.alice@…` matches from `a`
            if start < at:
                spans.append((start, domain.end()))
                resume = domain.end()
        at = text.find("@", resume)
    return spans


class _Taken:
    """Accepted spans, sorted; a span overlapping an accepted one is refused."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.matches: list[Match] = []

    def offer(self, start: int, end: int, kind: Kind) -> None:
        i = bisect.bisect_left(self.starts, start)
        if i > 0 and self.matches[i - 1].end > start:
            return
        if i < len(self.starts) and self.starts[i] < end:
            return
        self.starts.insert(i, start)
        self.matches.insert(i, Match(start, end, kind))


class Detectors:
    """The enabled detectors; `find` is pure and deterministic."""

    def __init__(
        self,
        *,
        email: bool = True,
        phone: bool = True,
        ssn: bool = True,
        token_like: bool = True,
        payment_card: bool = True,
        phone_region: str = "US",
    ) -> None:
        self.email = email
        self.phone = phone
        self.ssn = ssn
        self.token_like = token_like
        self.payment_card = payment_card
        self.phone_region = phone_region.strip().upper()
        # Number windows in which the card, SSN and phone detectors found nothing. Dates, versions, ids and
        # timestamps recur (a chat resends its history with every request), and a window's verdict depends
        # on its own text alone: see `window_key`. Holds no match, by construction; bounded.
        self._clean_windows: set[WindowKey] = set()

    @classmethod
    def from_settings(cls, settings: PiiDetectors) -> Detectors:
        return cls(
            email=settings.email,
            phone=settings.phone,
            ssn=settings.ssn,
            token_like=settings.token_like,
            payment_card=settings.payment_card,
            phone_region=settings.phone_region,
        )

    def find(self, text: str) -> list[Match]:
        """Non-overlapping matches in `text`, in order of position."""
        taken = _Taken()
        for start, end, kind in self._spans(text):
            taken.offer(start, end, kind)
        return taken.matches

    def finds_any(self, text: str) -> bool:
        """`find(text) != []`, stopping at the first span: the first one offered is always taken."""
        return next(self._spans(text), None) is not None

    def _spans(self, text: str) -> Iterator[tuple[int, int, Kind]]:
        """Every detector's spans, by priority (secrets first), overlaps not yet resolved."""
        size = len(text)
        if size < MIN_MATCH_LENGTH:
            return
        if self.token_like and size >= MIN_SECRET_LENGTH:
            for start, end in find_secrets(text):
                yield start, end, Kind.TOKEN
        if self.email and "@" in text:
            for start, end in find_emails(text):
                yield start, end, Kind.EMAIL
        if (
            (self.payment_card or self.ssn or self.phone)
            and size >= _MIN_NUMBER_LENGTH
            # `number_windows` counts digits first too; ten `str.count` are cheaper only on a long text.
            and (size < _SHORT_TEXT or enough_digits(text))
        ):
            yield from self._number_spans(text)

    def _number_spans(self, text: str) -> Iterator[tuple[int, int, Kind]]:
        clean = self._clean_windows
        keys = {window: window_key(text, window) for window in number_windows(text)}
        windows = [window for window, key in keys.items() if key not in clean]
        if not windows:
            return
        starts: list[int] = []  # of the spans found: their windows are not clean
        if self.payment_card:
            for start, end in find_cards(text, windows):
                starts.append(start)
                yield start, end, Kind.CARD
        if self.ssn:
            for start, end in find_ssns(text, windows):
                starts.append(start)
                yield start, end, Kind.SSN
        if self.phone:
            for start, end in find_phones(text, windows, self.phone_region):
                starts.append(start)
                yield start, end, Kind.PHONE
        starts.sort()
        if len(clean) + len(windows) > _MAX_CLEAN_WINDOWS:
            clean.clear()  # as good as an LRU for traffic that repeats itself, and simpler
        for window in windows[:_MAX_CLEAN_WINDOWS]:
            i = bisect.bisect_left(starts, window[0])
            if i == len(starts) or starts[i] >= window[1]:
                clean.add(keys[window])


def window_key(text: str, window: Window) -> WindowKey:
    """All that the card, SSN and phone patterns see of a window: its text, the one character before it
    that their look-behinds read (none at the start of the text), and the digits of its cluster. Their
    look-aheads stop at the window's end; every match lies inside its window."""
    pos, endpos, digits = window
    return pos > 0, text[max(0, pos - 1) : endpos], digits
