"""Rows a migration seeds, shared with the SQLite head snapshot (store/snapshot.py) so both write the same."""

from __future__ import annotations

# 0003: the tenant every trace and key belongs to when auth is off (auth-and-tenancy.md §9).
DEFAULT_TENANT_ROWS = (
    "INSERT INTO organizations (id, name) VALUES ('default', 'Default Organization')",
    "INSERT INTO workspaces (org_id, id, name) VALUES ('default', 'default', 'Default Workspace')",
)
