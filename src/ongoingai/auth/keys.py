"""Gateway keys as data: token hashing, generated ids and tokens, and the stored key record.

auth-and-tenancy.md §2: a token is only ever kept as the lowercase hex SHA-256 of its raw text; lookups
hash the presented token. Generated ids are `gk_` + 16 hex, generated tokens `ogk_` + unpadded
base64url of 24 random bytes.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from ongoingai.auth.identity import Identity
from ongoingai.auth.roles import permissions_for

DEFAULT_TENANT = "default"
DEFAULT_ROLE = "developer"
# A key id ends up in URL paths (`/api/gateway-keys/{id}`) and logs: printable, no `/`, bounded.
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def hash_token(token: str) -> str:
    """Lowercase hex SHA-256 of the raw token (64 characters)."""
    return hashlib.sha256(token.encode()).hexdigest()


def generate_key_id() -> str:
    return "gk_" + secrets.token_hex(8)


def generate_token() -> str:
    return "ogk_" + base64.urlsafe_b64encode(secrets.token_bytes(24)).decode().rstrip("=")


def is_valid_key_id(key_id: str) -> bool:
    return KEY_ID_PATTERN.fullmatch(key_id) is not None


@dataclass(frozen=True, slots=True)
class GatewayKey:
    """One gateway key as stored (config or `gateway_keys` row); never holds the raw token."""

    id: str
    token_hash: str
    org_id: str = ""  # empty → `default` in identity(); set on every stored row
    workspace_id: str = ""
    team: str = ""
    name: str = ""
    description: str = ""
    created_by: str = ""
    role: str = DEFAULT_ROLE
    permissions: tuple[str, ...] = ()
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    previous_token_hash: str | None = None
    previous_token_expires_at: datetime | None = None

    def identity(self) -> Identity:
        """auth-and-tenancy.md §4: empty org/workspace → `default`; team falls back to the workspace."""
        org = self.org_id.strip() or DEFAULT_TENANT
        workspace = self.workspace_id.strip() or self.team.strip() or DEFAULT_TENANT
        return Identity(
            key_id=self.id.strip(),
            org_id=org,
            workspace_id=workspace,
            team=self.team.strip() or workspace,
            role=self.role,
            permissions=permissions_for(self.role, self.permissions),
        )
