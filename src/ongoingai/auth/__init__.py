"""Gateway keys, roles and permissions, tenancy: who a request is and what it may do."""
