"""Alembic migrations for the trace store; run in code by `store.migrate`, never through alembic.ini."""

# The newest revision this build ships. `serve` and `/api/ready` compare the database with it before
# importing Alembic at all; a test checks it equals Alembic's computed head, so a new migration that
# forgets to move it fails the suite.
HEAD_REVISION = "0005_partial_lineage_indexes"
