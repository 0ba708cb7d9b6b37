"""CORS for everything the API answers (http-api.md §1): fixed headers on every response, OPTIONS → 204.

A pure ASGI middleware in the shape of starlette's: headers computed once in `__init__`.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALLOWED_HEADERS = ("Content-Type", "Authorization", "X-API-Key", "X-OngoingAI-Gateway-Key")


def cors_headers(auth_header: str) -> list[tuple[bytes, bytes]]:
    allowed = list(ALLOWED_HEADERS)
    if auth_header and auth_header.lower() not in (h.lower() for h in allowed):
        allowed.append(auth_header)
    return [
        (b"access-control-allow-origin", b"*"),
        (b"access-control-allow-methods", b"GET, POST, DELETE, OPTIONS"),
        (b"access-control-allow-headers", ", ".join(allowed).encode("latin-1")),
    ]


class CorsMiddleware:
    def __init__(self, app: ASGIApp, auth_header: str = "") -> None:
        self.app = app
        self.headers = cors_headers(auth_header)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            # Any OPTIONS reaching the API router is a preflight: 204, no body, never authorised away.
            await send({"type": "http.response.start", "status": 204, "headers": list(self.headers)})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, send_with_cors)
