"""Secret formats for the `token_like` detector (DEVIATIONS.md "token_like detector").

Real formats, not the original's underscore-only pattern: OpenAI `sk-…`/`sk-proj-…`, Anthropic
`sk-ant-…`, Stripe, Google `AIza…`, AWS access key ids, GitHub, Slack, JWTs and PEM private-key blocks.
Each format is found by its literal prefix first (`str.find` is far cheaper than a regex scan of a large
body), then confirmed by a pattern anchored there. The telemetry scrubber should call `find_secrets`
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
    needs: str  # "-" or "_" when the prefix holds one (a cheap first test), else ""


def _format(name: str, prefix: str, pattern: str, flags: int = 0) -> SecretFormat:
    needs = "-" if "-" in prefix else "_" if "_" in prefix else ""
    return SecretFormat(name, prefix, re.compile(pattern, re.ASCII | flags), needs)


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


_BY_NEED = {need: tuple(f for f in SECRET_FORMATS if f.needs == need) for need in ("-", "_", "")}


def _candidates(text: str) -> list[SecretFormat]:
    """Formats whose prefix can occur: one `in` per character class rules most strings out at once."""
    found = [f for f in _BY_NEED[""] if f.prefix in text]
    if "-" in text:
        found.extend(_BY_NEED["-"])
    if "_" in text:
        found.extend(_BY_NEED["_"])
    return found


def find_secrets(text: str) -> list[tuple[int, int]]:
    """Non-overlapping (start, end) spans of secrets in `text`, in order."""
    if len(text) < MIN_SECRET_LENGTH:
        return []
    spans: list[tuple[int, int]] = []
    for fmt in _candidates(text):
        at = text.find(fmt.prefix)
        while at != -1:
            resume = at + 1
            # A secret starts a token: `task-force`, `desk-…` and `gwk_test_1` never reach the pattern.
            if at == 0 or text[at - 1] not in _ALNUM:
                m = fmt.pattern.match(text, at)
                if m:
                    spans.append(m.span())
                    resume = m.end()
            at = text.find(fmt.prefix, resume)
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
