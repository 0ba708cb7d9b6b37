"""The key-store boundary: what the cache reads (`KeySource`) and the conflicts a mutation can hit."""

from __future__ import annotations

from typing import Protocol

from ongoingai.auth.keys import GatewayKey


class KeySource(Protocol):
    """Where the key cache loads keys from."""

    async def active_keys(self) -> list[GatewayKey]:
        """Every key that is not revoked (expired ones included: the cache answers them with 401)."""


class KeyConflictError(Exception):
    """A create collided with an existing key id or token hash (409 `gateway key already exists`)."""


class TokenConflictError(Exception):
    """A rotate's new token is already some key's token (409 `gateway key token already exists`)."""
