"""Migration scripts, one linear history shared by SQLite and Postgres."""
