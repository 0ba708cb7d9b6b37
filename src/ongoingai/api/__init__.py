"""`/` and `/api/*`: parse → call query/ → render. `create_api(...)` builds the mountable ASGI app.

The names below load on first use: the offline CLI imports `api.params` and `api.render` only, and must not
pay for Starlette's routing and the store plumbing behind `routes` (about a third of `report`'s start).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ongoingai.api.context import TENANT_SCOPE_KEY, ApiContext
    from ongoingai.api.routes import ROUTES, attach_store, create_api

__all__ = ["ROUTES", "TENANT_SCOPE_KEY", "ApiContext", "attach_store", "create_api"]

_HOMES = {
    "TENANT_SCOPE_KEY": "ongoingai.api.context",
    "ApiContext": "ongoingai.api.context",
    "ROUTES": "ongoingai.api.routes",
    "attach_store": "ongoingai.api.routes",
    "create_api": "ongoingai.api.routes",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
