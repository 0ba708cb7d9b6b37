"""Key stores: `StaticKeyStore` (`auth.keys` from config) and `SqlKeyStore` (`gateway_keys`, both drivers)."""

from ongoingai.auth.stores.base import KeyConflictError, KeySource, TokenConflictError
from ongoingai.auth.stores.sql import SqlAuditLog, SqlKeyStore
from ongoingai.auth.stores.static import AuthConfigError, StaticKeyStore, load_config_keys

__all__ = [
    "AuthConfigError",
    "KeyConflictError",
    "KeySource",
    "SqlAuditLog",
    "SqlKeyStore",
    "StaticKeyStore",
    "TokenConflictError",
    "load_config_keys",
]
