"""Alembic environment: always handed a live connection by `store.migrate` (no URL, no alembic.ini)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from ongoingai.store.tables import metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("trace store migrations need a connection; run them through ongoingai.store")
    # The caller holds the transaction (and, on Postgres, the advisory lock): every revision of one
    # run commits together, so an interrupted run leaves the previous revision intact.
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
