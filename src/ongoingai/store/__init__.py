"""Trace storage: the `traces` schema (tables.py, migrations/), engines for SQLite and Postgres, writes.

Public entry points: `open_trace_store(settings, migrate=True)` → `SqlTraceStore` (`write_batch`,
`connect`, `ping`, `migration_status`, `close`); errors are classified by `classify_error`.
"""

from ongoingai.store.auth_tables import audit_events, gateway_keys, organizations, workspaces
from ongoingai.store.errors import ERROR_CLASSES, ErrorClass, StoreUnavailable, classify_error
from ongoingai.store.migrate import MigrationState
from ongoingai.store.store import SqlTraceStore, open_trace_store
from ongoingai.store.writes import WriteFailure, WriteResult

__all__ = [
    "ERROR_CLASSES",
    "ErrorClass",
    "MigrationState",
    "SqlTraceStore",
    "StoreUnavailable",
    "WriteFailure",
    "WriteResult",
    "audit_events",
    "classify_error",
    "gateway_keys",
    "open_trace_store",
    "organizations",
    "workspaces",
]
