"""The auth routes (gateway keys, audit) as rows of the route table in `routes.py` (schemas: auth_schemas.py).

Row shape: (path, methods, handler, summary, responses, params), as `routes.ApiRoute` takes it. A
response schema of `""` means no body (204).
"""

from __future__ import annotations

from typing import Any

from ongoingai.api.audit import AUDIT_PARAMS, get_audit
from ongoingai.api.keys import gateway_keys_collection, revoke_gateway_key, rotate_gateway_key


def _errors(*statuses: int) -> dict[int, str]:
    return dict.fromkeys(statuses, "Error")


_MUTATION_ERRORS = _errors(400, 403, 404, 409, 413, 500, 501, 503)

AUTH_ROUTES: tuple[tuple[Any, ...], ...] = (
    (
        "/api/gateway-keys",
        ("GET", "POST"),
        gateway_keys_collection,
        "List active gateway keys of the caller's tenant (GET) or create one (POST; the token is shown once)",
        {200: "GatewayKeyList", 201: "GatewayKeyWithToken", **_MUTATION_ERRORS},
    ),
    (
        "/api/gateway-keys/{key_id}",
        ("DELETE",),
        revoke_gateway_key,
        "Revoke a gateway key: its current and previous tokens stop working",
        {204: "", **_MUTATION_ERRORS},
    ),
    (
        "/api/gateway-keys/{key_id}/rotate",
        ("POST",),
        rotate_gateway_key,
        "Give a gateway key a new token; the old one works for grace_seconds more",
        {200: "GatewayKeyWithToken", **_MUTATION_ERRORS},
    ),
    (
        "/api/audit",
        ("GET",),
        get_audit,
        "Audit records of the caller's tenant, newest first, cursor-paginated",
        {200: "AuditList", **_errors(400, 500, 503)},
        AUDIT_PARAMS,
    ),
)
