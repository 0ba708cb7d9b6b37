"""`/` and `/api/*`: parse → call query/ → render. `create_api(...)` builds the mountable ASGI app."""

from ongoingai.api.context import TENANT_SCOPE_KEY, ApiContext
from ongoingai.api.routes import ROUTES, attach_store, create_api

__all__ = ["ROUTES", "TENANT_SCOPE_KEY", "ApiContext", "attach_store", "create_api"]
