"""OpenAPI schemas of the auth responses (gateway keys, audit) and the key request bodies.

`openapi.SCHEMAS` takes these in; the API tests check real responses against them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ongoingai.auth.audit import ACTIONS, OUTCOMES
from ongoingai.auth.roles import ROLES

_STR = {"type": "string"}
_INT = {"type": "integer"}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_STRINGS = {"type": "array", "items": _STR}


def _obj(props: dict[str, Any], required: Sequence[str] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(required), "additionalProperties": False}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


_KEY = {
    "id": _STR,
    "org_id": _STR,
    "workspace_id": _STR,
    "name": _STR,
    "description": _STR,
    "created_by": _STR,
    "role": _STR,
    "permissions": _STRINGS,
    "created_at": _TIME,
    "last_used_at": _TIME,
    "expires_at": _TIME,
    "previous_token_expires_at": _TIME,
}
_KEY_REQUIRED = [name for name in _KEY if name != "permissions"]
_AUDIT_EVENT = {
    "id": _STR,
    "created_at": _TIME,
    "org_id": _STR,
    "workspace_id": _STR,
    "actor_key_id": _STR,
    "action": {"enum": list(ACTIONS)},
    "outcome": {"enum": list(OUTCOMES)},
    "reason": _STR,
    "trace_id": _STR,
    "correlation_id": _STR,
    "details": {"type": "object"},
}

AUTH_SCHEMAS: dict[str, Any] = {
    "GatewayKey": _obj(_KEY, _KEY_REQUIRED),
    "GatewayKeyWithToken": _obj({**_KEY, "token": _STR}, [*_KEY_REQUIRED, "token"]),
    "GatewayKeyList": _obj({"items": {"type": "array", "items": _ref("GatewayKey")}}, ["items"]),
    "CreateGatewayKey": _obj(
        {
            "id": _STR,
            "token": _STR,
            "org_id": _STR,
            "workspace_id": _STR,
            "name": _STR,
            "description": _STR,
            "role": {"enum": list(ROLES)},
            "permissions": _STRINGS,
            "expires_at": _TIME,
        }
    ),
    "RotateGatewayKey": _obj({"token": _STR, "grace_seconds": {**_INT, "minimum": 0, "maximum": 86400}}),
    "AuditEvent": _obj(_AUDIT_EVENT, list(_AUDIT_EVENT)),
    "AuditList": _obj(
        {"items": {"type": "array", "items": _ref("AuditEvent")}, "next_cursor": _STR}, ["items"]
    ),
}

AUTH_REQUEST_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("/api/gateway-keys", "post"): {
        "required": False,
        "description": "optional, at most 64 KiB, no unknown fields; the key gets the caller's tenant",
        "content": {"application/json": {"schema": _ref("CreateGatewayKey")}},
    },
    ("/api/gateway-keys/{key_id}/rotate", "post"): {
        "required": False,
        "description": "optional; at most 64 KiB; a token is generated when absent",
        "content": {"application/json": {"schema": _ref("RotateGatewayKey")}},
    },
}
