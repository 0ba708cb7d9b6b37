"""One error hierarchy and one renderer, so every failure has one status, one message, one form.

    GatewayError(status, message)
     ├── BadRequest            400
     ├── PayloadTooLarge       413
     └── UpstreamError
          ├── UpstreamUnreachable  502  `upstream request failed`
          └── UpstreamTimeout      504  `upstream request timed out`

Proxy errors are plain text with a trailing newline (proxy.md §10, DEVIATIONS "Errors"); `/api`
errors are JSON `{"error": …}` and rendered by the API package with `render_json_error`.
"""

from __future__ import annotations

import orjson

from ongoingai.http.asgi import Send

PLAIN = b"text/plain; charset=utf-8"
JSON = b"application/json"


class GatewayError(Exception):
    status: int = 500
    message: str = "internal error"

    def __init__(self, message: str | None = None, *, failure_class: str = "") -> None:
        if message is not None:
            self.message = message
        self.failure_class = failure_class
        super().__init__(self.message)


class BadRequest(GatewayError):
    status = 400
    message = "failed to read request body"


class PayloadTooLarge(GatewayError):
    status = 413
    message = "request body too large"


class UpstreamError(GatewayError):
    status = 502
    message = "upstream request failed"


class UpstreamUnreachable(UpstreamError):
    """Connect/DNS/TLS failure or reset before response headers (`upstream_unreachable`)."""


class UpstreamTimeout(UpstreamError):
    """No connection or no response headers in time (`connect_timeout`, `first_byte_timeout`)."""

    status = 504
    message = "upstream request timed out"


async def send_plain(
    send: Send, status: int, message: str, extra_headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = message.encode() + b"\n"
    await _send(send, status, PLAIN, body, extra_headers)


async def send_json_error(
    send: Send, status: int, message: str, extra_headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await _send(send, status, JSON, orjson.dumps({"error": message}) + b"\n", extra_headers)


async def send_json(
    send: Send,
    status: int,
    document: dict[str, object],
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """A JSON error with fields beyond `error` (limits.md §5: `code`, `retry_after_seconds`)."""
    await _send(send, status, JSON, orjson.dumps(document) + b"\n", extra_headers)


async def _send(
    send: Send, status: int, content_type: bytes, body: bytes, extra: list[tuple[bytes, bytes]] | None
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if extra:
        headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
