"""The privacy engine: pure functions, no I/O (privacy-and-policy.md; DEVIATIONS.md wins).

credentials.py, numeric.py, detectors.py   what counts as an email, phone, SSN, card or secret
placeholders.py                            `[{type}_REDACTED:{hash}]`, tenant-scoped hashes
rules.py                                   field-name and JSON-path rules
text.py, walk.py, jsonish.py, sse.py       redacting text, JSON values, broken JSON and SSE streams
screen.py                                  one pass over all strings: nothing to redact, or where
codec.py, body.py                          one body: bytes in, `Redaction` out
headers.py                                 stored-header redaction
modes.py                                   effective mode with scopes
redactor.py                                `Redactor`: everything above, built once from settings
decide.py                                  the request guardrail's `Decision`
storage.py                                 bodies for a stored trace
"""

from ongoingai.policy.credentials import find_secrets
from ongoingai.policy.decide import Action, Decision, decide
from ongoingai.policy.detectors import Kind, Match
from ongoingai.policy.headers import REDACTED
from ongoingai.policy.modes import EffectivePolicy, Mode, ModeError, PolicySubject
from ongoingai.policy.placeholders import placeholder_hash
from ongoingai.policy.redactor import Redactor
from ongoingai.policy.result import Redaction, StoredHeaders, TextRedaction, merge_counts
from ongoingai.policy.rules import PathRuleError
from ongoingai.policy.storage import FAILURE_SEMANTICS, StoredBodies, redact_for_storage

__all__ = [
    "FAILURE_SEMANTICS",
    "REDACTED",
    "Action",
    "Decision",
    "EffectivePolicy",
    "Kind",
    "Match",
    "Mode",
    "ModeError",
    "PathRuleError",
    "PolicySubject",
    "Redaction",
    "Redactor",
    "StoredBodies",
    "StoredHeaders",
    "TextRedaction",
    "decide",
    "find_secrets",
    "merge_counts",
    "placeholder_hash",
    "redact_for_storage",
]
