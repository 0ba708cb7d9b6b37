"""Secret formats for the `token_like` detector (DEVIATIONS.md "token_like detector").

Real formats, not the original's underscore-only pattern: OpenAI `sk-…`/`sk-proj-…`, Anthropic
`sk-ant-…`, Stripe, Google `AIza…`, AWS access key ids, GitHub, Slack, JWTs and PEM private-key blocks.
Each format is found by its literal prefix first, then confirmed by a pattern anchored there; the nine
prefixes that hold `_` share one scan (`prefix_starts`). The telemetry scrubber should call `find_secrets`
too, so spans and logs hide exactly what stored bodies hide (DEVIATIONS.md "Telemetry scrubbing").
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

_ALNUM = frozenset(string.ascii_letters + string.digits)
_B64URL = r"[A-Za-z0-9_\-]"


@dataclass(frozen=True, slots=True)
class SecretFormat:
    name: str
    prefix: str
    pattern: re.Pattern[str]


def _format(name: str, prefix: str, pattern: str, flags: int = 0) -> SecretFormat:
    return SecretFormat(name, prefix, re.compile(pattern, re.ASCII | flags))


_PEM_LABEL = r"[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
SECRET_FORMATS: tuple[SecretFormat, ...] = (
    # OpenAI (`sk-`, `sk-proj-`, `sk-svcacct-`, `sk-admin-`) and Anthropic (`sk-ant-api03-`): random bodies
    # always carry a digit, which keeps hyphenated words such as `sk-learn-compatible-wrapper` out.
    _format("openai_anthropic", "sk-", rf"sk-(?={_B64URL}*[0-9]){_B64URL}{{20,}}"),
    _format("stripe_secret", "sk_", r"sk_(?:live|test)_[A-Za-z0-9]{10,}"),
    _format("stripe_restricted", "rk_", r"rk_(?:live|test)_[A-Za-z0-9]{10,}"),
    _format("stripe_publishable", "pk_", r"pk_(?:live|test)_[A-Za-z0-9]{10,}"),
    _format("google_api_key", "AIza", rf"AIza{_B64URL}{{35}}(?!{_B64URL})"),
    _format("aws_access_key_id", "AKIA", r"AKIA[A-Z0-9]{16}(?![A-Za-z0-9])"),
    _format("aws_temporary_key_id", "ASIA", r"ASIA[A-Z0-9]{16}(?![A-Za-z0-9])"),
    _format("github_pat_fine", "github_pat_", r"github_pat_[A-Za-z0-9_]{22,}"),
    *(
        _format(f"github_{p}", f"{p}_", rf"{p}_[A-Za-z0-9]{{36,}}")
        for p in ("ghp", "gho", "ghu", "ghs", "ghr")
    ),
    _format("slack_token", "xox", r"xox[baprs]-[A-Za-z0-9\-]{10,}"),
    _format("slack_app_token", "xapp-", r"xapp-[0-9]-[A-Za-z0-9\-]{10,}"),
    _format("jwt", "eyJ", rf"eyJ{_B64URL}{{8,}}\.{_B64URL}{{8,}}\.{_B64URL}{{8,}}"),
    # A block without its END line (a truncated capture, a split stream) is redacted to the end of its
    # base64 body rather than left readable.
    _format(
        "pem_private_key",
        "-----BEGIN",
        rf"-----BEGIN{_PEM_LABEL}(?:.*?-----END{_PEM_LABEL}|[A-Za-z0-9+/=\s\\:,.\-]*)",
        re.DOTALL,
    ),
)
MIN_SECRET_LENGTH = 15  # `xoxb-` + 10


# Nine short prefixes hold `_` (`sk_`, `ghp_`, …): one scan for `_` finds them all, each `_` checked against
# them by look-arounds, where nine `str.find` would scan the text nine times. Every other prefix is found by
# `str.find`, once its rarest character is known to be there at all (a one-character `in` is a memchr).
_RARE_FIRST = "_JKzxS-"
_LONG_PREFIX = 8  # `github_pat_`, `-----BEGIN`: `str.find` skips along a long prefix quickly


def _plan() -> tuple[re.Pattern[str], tuple[tuple[int, str, int], ...], tuple[tuple[int, str, str], ...]]:
    shared: list[tuple[int, str, int]] = []  # (format index, prefix, offset of its `_`)
    single: list[tuple[int, str, str]] = []  # (format index, prefix, its rarest character)
    for i, fmt in enumerate(SECRET_FORMATS):
        if "_" in fmt.prefix and len(fmt.prefix) < _LONG_PREFIX:
            shared.append((i, fmt.prefix, fmt.prefix.index("_")))
        else:
            single.append((i, fmt.prefix, next(c for c in _RARE_FIRST if c in fmt.prefix)))
    # Consume the `_`, then look back over the prefix up to it and ahead over the rest: one character per
    # match, so no occurrence hides another.
    alternatives = (f"(?<={re.escape(p[: k + 1])})(?={re.escape(p[k + 1 :])})" for _, p, k in shared)
    return re.compile("_(?:" + "|".join(alternatives) + ")"), tuple(shared), tuple(single)


_UNDERSCORE_PREFIXES, _SHARED, _SINGLE = _plan()


def prefix_starts(text: str) -> dict[int, list[int]]:
    """Format index → every position where its prefix occurs in `text`, ascending (overlaps included)."""
    starts: dict[int, list[int]] = {}
    if "_" in text:
        for m in _UNDERSCORE_PREFIXES.finditer(text):
            for i, prefix, k in _SHARED:  # which of the prefixes ends its first part here
                start = m.start() - k
                if start >= 0 and text.startswith(prefix, start):
                    starts.setdefault(i, []).append(start)
    for i, prefix, rare in _SINGLE:
        if rare in text:
            at = text.find(prefix)
            while at != -1:
                starts.setdefault(i, []).append(at)
                at = text.find(prefix, at + 1)
    return starts


def find_secrets(text: str) -> list[tuple[int, int]]:
    """Non-overlapping (start, end) spans of secrets in `text`, in order."""
    if len(text) < MIN_SECRET_LENGTH:
        return []
    spans: list[tuple[int, int]] = []
    for i, starts in prefix_starts(text).items():
        pattern = SECRET_FORMATS[i].pattern
        resume = 0
        for at in starts:
            # A secret starts a token: `task-force`, `desk-…` and `gwk_test_1` never reach the pattern.
            if at < resume or (at > 0 and text[at - 1] in _ALNUM):
                continue
            m = pattern.match(text, at)
            if m:
                spans.append(m.span())
                resume = m.end()
    if len(spans) < 2:
        return spans
    # Overlapping secrets (`sk-` glued to a JWT) merge: every character of either stays covered.
    spans.sort()
    merged = [spans[0]]
    for start, end in spans[1:]:
        if start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
