"""`Identity`: a resolved gateway key (auth-and-tenancy.md). Data only."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Identity:
    key_id: str
    org_id: str
    workspace_id: str
    team: str = ""
    role: str = ""
    permissions: frozenset[str] = frozenset()
