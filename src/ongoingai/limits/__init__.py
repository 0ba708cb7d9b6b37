"""Rate limits and quotas (limits.md, issue 8): requests per minute, tokens and cost per UTC day, and
concurrent requests, per gateway key and per workspace, on the `limits` library.

rules.py (thresholds, codes, subjects) · backend.py (the backend protocol, UTC days) · memory.py and
window_storage.py (`limits.backend: memory`) · redis_backend.py, redis_scripts.py, pending.py (`redis`:
shared by every instance) · seed.py (day totals from the store) · limiter.py (what auth and the trace path
call) · metrics.py (OTel instruments).
"""

from ongoingai.limits.backend import Lease
from ongoingai.limits.limiter import Limiter, disabled_health
from ongoingai.limits.rules import Denial

# The auth layer leaves an admitted request's concurrency lease here; the gateway releases it at the end.
LEASE_SCOPE_KEY = "ongoingai.limits.lease"

__all__ = ["LEASE_SCOPE_KEY", "Denial", "Lease", "Limiter", "disabled_health"]
