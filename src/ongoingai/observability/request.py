"""`RequestObserver`: what the gateway does around every HTTP request for telemetry when OTel is off.

Sets the correlation id for every log line of the request and writes the one access-log line (`request
complete`). Imports no OpenTelemetry module: with telemetry off (the default) the gateway starts without
it. `otel_request.OtelRequestObserver` adds the Prometheus scrape path and the request spans.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from ongoingai.http.asgi import Message, Receive, Scope, Send
from ongoingai.observability.labels import route_pattern, route_provider
from ongoingai.observability.logging import CORRELATION_ID, log_fields

logger = logging.getLogger("ongoingai.access")

Dispatch = Callable[[Scope, Receive, Send, str], Awaitable[None]]
CORRELATION_HEADER = b"x-ongoingai-correlation-id"


class StatusSend:
    """Passes messages through and remembers the response status."""

    __slots__ = ("send", "status")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.status = 0

    def __call__(self, message: Message) -> Awaitable[None]:
        # Not a coroutine of its own: the caller awaits the server's send directly, one coroutine frame
        # fewer per message (a streamed response sends one per upstream chunk).
        if message["type"] == "http.response.start":
            self.status = message["status"]
        return self.send(message)


class RequestObserver:
    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, correlation_id: str, dispatch: Dispatch
    ) -> None:
        token = CORRELATION_ID.set(correlation_id)
        started = time.perf_counter_ns()
        status = StatusSend(send)
        try:
            await dispatch(scope, receive, status, correlation_id)
        finally:
            access_log(scope, status.status, correlation_id, started)
            CORRELATION_ID.reset(token)


def access_log(scope: Scope, status: int, correlation_id: str, started: int) -> None:
    """The one `request complete` line per request (observability.md §4)."""
    pattern = route_pattern(scope["path"])
    provider, _ = route_provider(pattern)
    log_fields(
        logger,
        logging.INFO,
        "request complete",
        {
            "correlation_id": correlation_id,
            "method": scope["method"],
            "path": scope["path"],
            "route": pattern,
            "provider": provider,
            "status": status or 500,
            "latency_ms": round((time.perf_counter_ns() - started) / 1e6, 3),
        },
    )
