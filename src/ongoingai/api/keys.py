"""`/api/gateway-keys`: list, create, revoke, rotate (http-api.md §9, DEVIATIONS.md "Gateway keys").

Parse the body → call `auth.lifecycle.KeyLifecycle` → render. Every create/revoke/rotate, whether it
succeeds or not, is logged as `audit gateway key lifecycle` and queued as a `key.*` audit record (listing
is not audited). Tokens appear only in the create and rotate responses, never in a record or a log line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from ongoingai.api.context import tenant_scope_of
from ongoingai.api.render import error_response, json_response, render_time
from ongoingai.auth.audit import AuditWriter
from ongoingai.auth.identity import CORRELATION_SCOPE_KEY, IDENTITY_SCOPE_KEY, Identity
from ongoingai.auth.keys import DEFAULT_TENANT, GatewayKey
from ongoingai.auth.lifecycle import (
    BodyTooLargeError,
    InvalidJsonError,
    InvalidKeyRequestError,
    KeyLifecycle,
    KeyLifecycleError,
    KeyRequest,
    KeyStoreUnavailableError,
)
from ongoingai.store.columns import parse_stored_time

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


class CreateKeyBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    id: str | None = None
    token: str | None = None
    org_id: str | None = None  # accepted, ignored: a key lands in the caller's tenant
    workspace_id: str | None = None
    name: str | None = None
    description: str | None = None
    role: str | None = None
    permissions: list[str] | None = None
    expires_at: str | None = None


class RotateKeyBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    token: str | None = None
    grace_seconds: int | None = None


def attach_auth(app: Starlette, keys: KeyLifecycle, audit: AuditWriter) -> None:
    """Give the API the key service and the audit writer (until then the key routes answer 503)."""
    app.state.key_lifecycle = keys
    app.state.audit_writer = audit


def identity_of(request: Request) -> Identity | None:
    identity = request.scope.get(IDENTITY_SCOPE_KEY)
    return identity if isinstance(identity, Identity) else None


def render_key(key: GatewayKey, token: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": key.id,
        "org_id": key.org_id,
        "workspace_id": key.workspace_id,
        "name": key.name,
        "description": key.description,
        "created_by": key.created_by,
        "role": key.role,
        "permissions": list(key.permissions),
        "created_at": render_time(key.created_at),
        "last_used_at": render_time(key.last_used_at),
        "expires_at": render_time(key.expires_at),
        "previous_token_expires_at": render_time(key.previous_token_expires_at),
    }
    if not key.permissions:
        del out["permissions"]
    if token is not None:
        out["token"] = token
    return out


async def _read_json(request: Request) -> dict[str, Any]:
    """The body as a JSON object ({} when empty); 413 past 64 KiB, 400 for anything but one object."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise BodyTooLargeError()
    if not bytes(body).strip():
        return {}
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidJsonError() from None
    if not isinstance(data, dict):
        raise InvalidJsonError()
    return data


def _parse(model: type[BaseModel], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError:
        raise InvalidJsonError() from None


def _expires_at(text: str | None) -> datetime | None:
    if text is None or not text.strip():
        return None
    if not _RFC3339.match(text.strip()):
        raise InvalidKeyRequestError("invalid expires_at: expected RFC3339")
    try:
        return parse_stored_time(text)
    except ValueError:
        raise InvalidKeyRequestError("invalid expires_at: expected RFC3339") from None


Outcome = tuple[int, GatewayKey | None, str | None]
Operation = Callable[[Request, KeyLifecycle, Identity | None], Awaitable[Outcome]]


async def _create(request: Request, keys: KeyLifecycle, caller: Identity | None) -> Outcome:
    keys.require_mutable(caller)
    body: CreateKeyBody = _parse(CreateKeyBody, await _read_json(request))
    key, token = await keys.create(
        caller,
        KeyRequest(
            id=body.id or "",
            token=body.token or "",
            name=body.name or "",
            description=body.description or "",
            role=body.role,
            permissions=tuple(body.permissions or ()),
            expires_at=_expires_at(body.expires_at),
        ),
    )
    return 201, key, token


async def _revoke(request: Request, keys: KeyLifecycle, caller: Identity | None) -> Outcome:
    await keys.revoke(caller, request.path_params["key_id"])
    return 204, None, None


async def _rotate(request: Request, keys: KeyLifecycle, caller: Identity | None) -> Outcome:
    keys.require_mutable(caller)
    body: RotateKeyBody = _parse(RotateKeyBody, await _read_json(request))
    key, token = await keys.rotate(
        caller, request.path_params["key_id"], body.token or "", body.grace_seconds or 0
    )
    return 200, key, token


async def _audited(request: Request, action: str, operation: Operation) -> Response:
    keys: KeyLifecycle | None = getattr(request.app.state, "key_lifecycle", None)
    caller = identity_of(request)
    target = request.path_params.get("key_id", "")
    try:
        if keys is None:
            raise KeyStoreUnavailableError()
        status, key, token = await operation(request, keys, caller)
    except KeyLifecycleError as exc:
        _audit(request, action, caller, target, exc.status, exc.reason)
        return error_response(exc.status, exc.message)
    _audit(request, action, caller, key.id if key else target, status, "")
    if key is None:
        return Response(status_code=status)
    return json_response(render_key(key, token), status)


def _audit(
    request: Request, action: str, caller: Identity | None, target: str, status: int, reason: str
) -> None:
    """auth-and-tenancy.md §10 log line + the `key.*` audit record (no token or hash in either)."""
    correlation_id = str(request.scope.get(CORRELATION_SCOPE_KEY, ""))
    actor = caller.key_id if caller and caller.key_id else "system"
    org = caller.org_id if caller else DEFAULT_TENANT
    workspace = caller.workspace_id if caller else DEFAULT_TENANT
    logger.info(
        "audit gateway key lifecycle",
        extra={
            "correlation_id": correlation_id,
            "audit_action": action,
            "audit_outcome": "error" if reason else "success",
            "audit_reason": reason,
            "status_code": status,
            "actor_key_id": actor,
            "org_id": org,
            "workspace_id": workspace,
            "target_key_id": target,
        },
    )
    writer: AuditWriter | None = getattr(request.app.state, "audit_writer", None)
    if writer is not None:
        writer.record(
            f"key.{action}",
            "denied" if reason else "allowed",
            reason=reason,
            org_id=org,
            workspace_id=workspace,
            actor_key_id=actor,
            correlation_id=correlation_id,
            details={"target_key_id": target, "status_code": status},
        )


async def list_gateway_keys(request: Request) -> Response:
    keys: KeyLifecycle | None = getattr(request.app.state, "key_lifecycle", None)
    try:
        if keys is None:
            raise KeyStoreUnavailableError()
        items = await keys.list_keys(tenant_scope_of(request))
    except KeyLifecycleError as exc:
        return error_response(exc.status, exc.message)
    return json_response({"items": [render_key(k) for k in items]})


async def gateway_keys_collection(request: Request) -> Response:
    if request.method == "GET":
        return await list_gateway_keys(request)
    return await _audited(request, "create", _create)


async def revoke_gateway_key(request: Request) -> Response:
    return await _audited(request, "revoke", _revoke)


async def rotate_gateway_key(request: Request) -> Response:
    return await _audited(request, "rotate", _rotate)
