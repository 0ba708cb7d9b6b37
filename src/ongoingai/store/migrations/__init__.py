"""Alembic migrations for the trace store; run in code by `store.migrate`, never through alembic.ini."""
