"""`AuthGuard`: the auth layer of the request pipeline (auth-and-tenancy.md §7), present only when
`auth.enabled` is true.

For each request the gateway asks `admit(...)`: route decision → key-cache freshness → authenticate →
permission → strip the gateway-key header and attach the identity and tenant scope → (provider routes)
provider credential present → limits (issue 8) → note the key as used. A refusal is answered here with
the spec's JSON error, logged as `audit gateway auth deny` and queued as an `auth.deny` audit record (a
limit's as `limit.deny`); it never reaches the capture tap, so it produces no trace. Everything else on
the path is in memory: one SHA-256 and a dict lookup per request; limits add one backend check.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from ongoingai.auth.audit import AuditWriter
from ongoingai.auth.authorizer import Decision, Outcome, decide, provider_decision
from ongoingai.auth.cache import KeyCache
from ongoingai.auth.identity import CORRELATION_SCOPE_KEY, IDENTITY_SCOPE_KEY, Identity
from ongoingai.auth.keys import hash_token
from ongoingai.auth.last_used import LastUsedRecorder
from ongoingai.http.asgi import Scope, Send
from ongoingai.http.correlation import RESPONSE_HEADER
from ongoingai.http.errors import send_json, send_json_error
from ongoingai.limits import LEASE_SCOPE_KEY, Denial, Limiter

logger = logging.getLogger(__name__)

UNMAPPED = "request is not authorized by gateway policy"
UNAVAILABLE = "gateway key verification unavailable"
UNAUTHENTICATED = "missing or invalid gateway key"
FORBIDDEN = "gateway key does not have required permission"
NO_PROVIDER_KEY = "missing provider API key — pass your provider key via Authorization or X-API-Key header"


class AuthGuard:
    def __init__(
        self,
        *,
        header: str,
        cache: KeyCache,
        audit: AuditWriter,
        last_used: LastUsedRecorder,
        providers: Iterable[str],
        tenant_scope_key: str,
        api_headers: Iterable[tuple[bytes, bytes]] = (),
        limits: Limiter | None = None,
    ) -> None:
        self._header = header.strip().lower().encode("latin-1")
        self._cache = cache
        self._audit = audit
        self._last_used = last_used
        self._provider_decisions = {name: provider_decision(name) for name in providers}
        self._tenant_scope_key = tenant_scope_key
        self._api_headers = list(api_headers)
        self._limits = limits  # None: no threshold set, limits are never evaluated (limits.md §2)

    async def admit(self, scope: Scope, send: Send, provider: str | None, correlation_id: str) -> bool:
        """True: the request goes on (scope now carries the identity). False: it was answered here."""
        method: str = scope["method"]
        if provider is not None and method != "OPTIONS":
            decision = self._provider_decisions[provider]
        else:
            decision = decide(method, scope["path"], provider)
        if decision.outcome is Outcome.BYPASS:
            return True
        scope[CORRELATION_SCOPE_KEY] = correlation_id
        if decision.outcome is Outcome.DENY:
            await self._deny(scope, send, decision, 403, UNMAPPED, "action_unmapped", None)
            return False
        if not self._cache.fresh():
            await self._deny(scope, send, decision, 503, UNAVAILABLE, "verification_unavailable", None)
            return False
        token, has_credential, rest = self._read_headers(scope["headers"])
        if not token:
            await self._deny(scope, send, decision, 401, UNAUTHENTICATED, "missing_gateway_key", None)
            return False
        entry, reason = self._cache.verify(hash_token(token))
        if entry is None:
            await self._deny(scope, send, decision, 401, UNAUTHENTICATED, reason, None)
            return False
        identity = entry.identity
        if decision.permission not in identity.permissions:
            await self._deny(scope, send, decision, 403, FORBIDDEN, "permission_denied", identity)
            return False
        scope["headers"] = rest
        scope[IDENTITY_SCOPE_KEY] = identity
        scope[self._tenant_scope_key] = entry.tenant
        if provider is not None:
            if not has_credential:
                await self._deny(
                    scope, send, decision, 403, NO_PROVIDER_KEY, "missing_provider_credential", identity
                )
                return False
            # auth-and-tenancy.md §7 step g: limits, before the key is noted as used and the request forwarded
            if self._limits is not None and not await self._limit(scope, send, decision, identity):
                return False
            self._last_used.touch(identity.key_id)
        return True

    async def _limit(self, scope: Scope, send: Send, decision: Decision, identity: Identity) -> bool:
        assert self._limits is not None
        verdict = await self._limits.check(identity.org_id, identity.workspace_id, identity.key_id)
        if verdict is None:
            return True
        if isinstance(verdict, Denial):
            await self._deny_limit(scope, send, decision, verdict, identity)
            return False
        scope[LEASE_SCOPE_KEY] = verdict  # released by the gateway when the proxied response ends
        return True

    async def _deny_limit(
        self, scope: Scope, send: Send, decision: Decision, denial: Denial, identity: Identity
    ) -> None:
        """limits.md §5: 429 with `code` (and `retry_after_seconds` + `Retry-After` for rates), or 503."""
        correlation_id: str = scope[CORRELATION_SCOPE_KEY]
        self._record(scope, decision, denial.status, denial.audit_reason, identity, correlation_id, denial)
        headers = [(RESPONSE_HEADER, correlation_id.encode("latin-1"))]
        document: dict[str, object] = {"error": denial.message}
        if denial.code:
            document["code"] = denial.code
        if denial.retry_after_s is not None:
            document["retry_after_seconds"] = denial.retry_after_s
            headers.append((b"retry-after", str(denial.retry_after_s).encode()))
        await send_json(send, denial.status, document, headers)

    def _read_headers(
        self, headers: list[tuple[bytes, bytes]]
    ) -> tuple[str, bool, list[tuple[bytes, bytes]]]:
        """(gateway token trimmed, a provider credential is present, headers without the gateway key).

        The first gateway-key value counts, as in the original; every copy is stripped. Locals only in
        the loop: it runs on every protected request.
        """
        wanted = self._header
        token: bytes | None = None
        has_credential = False
        for name, value in headers:
            if name == wanted:
                if token is None:
                    token = value
            elif (name == b"authorization" or name == b"x-api-key") and value.strip():
                has_credential = True
        if token is None:
            return "", has_credential, headers
        return token.decode("latin-1").strip(), has_credential, [h for h in headers if h[0] != wanted]

    async def _deny(
        self,
        scope: Scope,
        send: Send,
        decision: Decision,
        status: int,
        message: str,
        reason: str,
        identity: Identity | None,
    ) -> None:
        correlation_id: str = scope[CORRELATION_SCOPE_KEY]
        self._record(scope, decision, status, reason, identity, correlation_id)
        headers = [(RESPONSE_HEADER, correlation_id.encode("latin-1"))]
        if not decision.provider:
            headers.extend(self._api_headers)  # CORS applies to every non-provider response
        await send_json_error(send, status, message, headers)

    def _record(
        self,
        scope: Scope,
        decision: Decision,
        status: int,
        reason: str,
        identity: Identity | None,
        correlation_id: str,
        limit: Denial | None = None,
    ) -> None:
        path: str = scope["path"]
        fields: dict[str, Any] = {
            "correlation_id": correlation_id,
            "audit_action": "gateway_auth",
            "audit_outcome": "deny",
            "audit_reason": reason,
            "status_code": status,
            "path": path,
            "audit_resource": decision.resource,
            "audit_resource_action": decision.action,
            "audit_scope": decision.scope,
            "provider": decision.provider,
            "required_permission": decision.permission,
            "limit_code": limit.code if limit is not None else "",
        }
        if identity is not None:
            fields["key_id"] = identity.key_id
            fields["org_id"] = identity.org_id
            fields["workspace_id"] = identity.workspace_id
        logger.warning("audit gateway auth deny", extra=fields)
        details = {
            "status_code": status,
            "method": scope["method"],
            "path": path,
            "resource": decision.resource,
            "required_permission": decision.permission,
            "provider": decision.provider,
        }
        action = "auth.deny"
        if limit is not None:
            # DEVIATIONS.md "Audit records": `limit.deny`, reason = the limit code (or the 503's reason).
            action, reason = "limit.deny", limit.code or reason
            details["limit_code"] = limit.code
            if limit.retry_after_s is not None:
                details["retry_after_seconds"] = limit.retry_after_s
        self._audit.record(
            action,
            "denied",
            reason=reason,
            org_id=identity.org_id if identity else "",
            workspace_id=identity.workspace_id if identity else "",
            actor_key_id=identity.key_id if identity else "",
            correlation_id=correlation_id,
            details={k: v for k, v in details.items() if v != ""},
        )
