"""Gateway keys, roles and permissions, tenancy: who a request is and what it may do (issue 4).

keys.py (hash, generated ids/tokens, `GatewayKey`) · roles.py (permission matrix) · authorizer.py (route
map, deny by default) · cache.py (token hash → identity in memory, staleness) · guard.py (the pipeline
layer) · lifecycle.py (create/list/revoke/rotate) · last_used.py · audit.py (records + writer) ·
stores/ (config and SQL key stores) · runtime.py (start/stop of all of it).
"""
