"""`Identity`: a resolved gateway key (auth-and-tenancy.md). Data only."""

from __future__ import annotations

from dataclasses import dataclass

# The auth layer puts the caller's Identity in the ASGI scope under this key (absent: auth is off).
IDENTITY_SCOPE_KEY = "ongoingai.identity"
# ... and the request's correlation id, so API handlers can put it on audit records.
CORRELATION_SCOPE_KEY = "ongoingai.correlation_id"


@dataclass(frozen=True, slots=True)
class Identity:
    key_id: str
    org_id: str
    workspace_id: str
    team: str = ""
    role: str = ""
    permissions: frozenset[str] = frozenset()
