"""The proxy handler (plain ASGI): read the body, forward it, stream the answer back chunk by chunk.

Each upstream read is written to the client as it arrives (no coalescing), and handed to the capture
tap. Failures map to the statuses and `failure_class` values of proxy.md §10 and DEVIATIONS.md. When
the exchange ends, however it ends, the tap goes to `on_done` (the trace builder and sink).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import aiohttp

from ongoingai.auth.identity import IDENTITY_SCOPE_KEY
from ongoingai.capture.exchange import Exchange
from ongoingai.http.asgi import Receive, Scope, Send
from ongoingai.http.errors import (
    BadRequest,
    GatewayError,
    PayloadTooLarge,
    UpstreamTimeout,
    UpstreamUnreachable,
    send_plain,
)
from ongoingai.observability.otel import Telemetry
from ongoingai.providers.routes import ProviderRoute
from ongoingai.proxy.guard import PolicyDeniedError, RequestGuard
from ongoingai.proxy.headers import CORRELATION, downstream_response_headers, upstream_request_headers
from ongoingai.proxy.upstream import CONNECTION_ERRORS, UpstreamClient

logger = logging.getLogger(__name__)

# How long an exchange runs before a watcher listens for the client going away (`_ClientWatch`).
WATCH_CLIENT_AFTER_S = 0.05
# How late the idle timeout (`providers.<name>.timeout.idle`) may fire: 5 % of it, at most 1 s (a stream
# idle for 300 s is cut between 300 and 301 s). Never early.
IDLE_SLACK_RATIO = 0.05
IDLE_SLACK_MAX_S = 1.0


class StreamAbortedError(Exception):
    """Raised to the server after response headers were sent, so it aborts the client connection.

    The client then sees a broken response (as from the upstream) instead of a silently short one.
    """


class _ClientGoneError(Exception):
    pass


async def read_body(receive: Receive, declared: int | None, limit: int) -> bytes:
    """The whole request body, or PayloadTooLarge past `limit`, or BadRequest if the client left."""
    if declared is not None and declared > limit:
        raise PayloadTooLarge()
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BadRequest()
        chunk: bytes = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge()
            parts.append(chunk)
        if not message.get("more_body", False):
            return parts[0] if len(parts) == 1 else b"".join(parts)


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _is_event_stream(headers: list[tuple[bytes, bytes]]) -> tuple[bool, int | None]:
    """(streaming, declared Content-Length or None) from response headers (names lower-cased)."""
    streaming = False
    length = None
    for name, value in headers:
        if name == b"content-type" and b"text/event-stream" in value.lower():
            streaming = True
        elif name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                length = None
    return streaming, length


class ProxyHandler:
    def __init__(
        self,
        upstream: UpstreamClient,
        guard: RequestGuard,
        on_done: Callable[[Exchange], None],
        *,
        max_request_body_bytes: int,
        body_max_size: int,
        gateway_header: str,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._upstream = upstream
        self._guard = guard
        self._on_done = on_done
        self._max_body = max_request_body_bytes
        self._body_max_size = body_max_size
        self._gateway_header = gateway_header.strip().lower().encode("latin-1")
        # Telemetry hooks: the guardrail inside `gateway.policy`, the upstream call's client span and
        # traceparent. With tracing off they are the plain check and None (observability/otel.py).
        tracing = telemetry is not None and telemetry.tracer is not None
        self._check = telemetry.trace_policy(guard.check) if telemetry is not None else guard.check
        self._start_upstream = telemetry.start_upstream if telemetry is not None and tracing else None

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, route: ProviderRoute, correlation_id: str
    ) -> None:
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        tap = Exchange(
            provider=route.name,
            method=scope["method"],
            path=scope["path"],
            request_headers=headers,
            correlation_id=correlation_id,
            body_max_size=self._body_max_size,
            identity=scope.get(IDENTITY_SCOPE_KEY),  # set by the auth layer; None with auth off
        )
        echo = [(CORRELATION, correlation_id.encode("latin-1"))]
        try:
            body = await read_body(receive, _declared_length(headers), self._max_body)
        except BadRequest as exc:
            # proxy.md §10: an unreadable body produces no trace.
            await send_plain(send, exc.status, exc.message, echo)
            return
        except PayloadTooLarge as exc:
            await send_plain(send, exc.status, exc.message, echo)
            tap.on_response_start(exc.status, [], streaming=False)
            tap.fail("request_too_large", incomplete=False)
            self._done(tap)
            return
        tap.set_request_body(body)
        try:
            forward = self._check(tap, body)
        except PolicyDeniedError as exc:
            tap.on_response_start(exc.status, [], streaming=False)
            tap.response_complete = True
            await send_plain(send, exc.status, exc.message, echo)
            self._done(tap)
            return
        try:
            await self._exchange_watching_client(scope, receive, send, route, tap, forward)
        finally:
            self._done(tap)

    def _done(self, tap: Exchange) -> None:
        tap.finish()
        self._on_done(tap)

    async def _exchange_watching_client(
        self, scope: Scope, receive: Receive, send: Send, route: ProviderRoute, tap: Exchange, body: bytes
    ) -> None:
        """Run the exchange while a watcher listens for the client going away, which cancels it.

        The watcher starts only once the exchange has lasted `WATCH_CLIENT_AFTER_S`: most exchanges end
        sooner, and a task created and cancelled per request costs more than a timer. A client gone
        before then is seen as soon as the watcher starts (the server keeps the disconnect)."""
        task = asyncio.current_task()
        assert task is not None
        watch = _ClientWatch(task, receive, tap)
        timer = asyncio.get_running_loop().call_later(WATCH_CLIENT_AFTER_S, watch.start)
        try:
            await self._exchange(scope, send, route, tap, body)
        except asyncio.CancelledError:
            if not watch.gone:
                raise
            task.uncancel()
            self._client_gone(tap)
        finally:
            timer.cancel()
            watch.stop()

    def _client_gone(self, tap: Exchange) -> None:
        if tap.response_status == 0:
            tap.on_response_start(502, [], streaming=False)
        tap.fail("client_disconnect", incomplete=True)
        logger.info("client disconnected before the response completed", extra={"path": tap.path})

    async def _exchange(
        self, scope: Scope, send: Send, route: ProviderRoute, tap: Exchange, body: bytes
    ) -> None:
        client = scope.get("client")
        up_headers, skip = upstream_request_headers(
            tap.request_headers,
            client_ip=client[0] if client else "",
            correlation_id=tap.correlation_id,
            gateway_header=self._gateway_header,
        )
        url = route.upstream_url(tap.path, scope["query_string"].decode("latin-1"))
        if self._start_upstream is not None:
            self._start_upstream(tap.method, url, up_headers)
        loop = asyncio.get_running_loop()
        timeout = route.timeout
        try:
            async with asyncio.timeout(timeout.first_byte) as deadline:
                response = await self._upstream.open(tap.method, url, up_headers, skip, body, timeout.connect)
                try:
                    await self._relay(send, response, tap, deadline, loop, timeout.idle)
                finally:
                    response.release()
        except GatewayError as exc:
            await self._fail_before_headers(send, tap, exc, route)
        except TimeoutError:
            if tap.response_status == 0:
                await self._fail_before_headers(
                    send, tap, UpstreamTimeout(failure_class="first_byte_timeout"), route
                )
            else:
                self._abort(tap, "upstream_idle_timeout")
        except CONNECTION_ERRORS:
            if tap.response_status == 0:
                await self._fail_before_headers(
                    send, tap, UpstreamUnreachable(failure_class="upstream_unreachable"), route
                )
            else:
                self._abort(tap, "upstream_reset")

    async def _relay(
        self,
        send: Send,
        response: aiohttp.ClientResponse,
        tap: Exchange,
        deadline: asyncio.Timeout,
        loop: asyncio.AbstractEventLoop,
        idle: float,
    ) -> None:
        raw = response.raw_headers
        streaming, length = _is_event_stream([(n.lower(), v) for n, v in raw])
        out_headers = downstream_response_headers(raw, tap.correlation_id.encode("latin-1"))
        await send({"type": "http.response.start", "status": response.status, "headers": out_headers})
        tap.on_response_start(response.status, out_headers, streaming)
        # The idle deadline stays at least `idle` after the last chunk and at most `slack` more: it is moved
        # only when a chunk comes later than `slack` after the last move, not on every chunk (rescheduling
        # cancels and allocates a timer: ~2.5 µs, times every event of a stream).
        slack = min(idle * IDLE_SLACK_RATIO, IDLE_SLACK_MAX_S)
        armed = loop.time() + idle + slack
        deadline.reschedule(armed)
        # A body of declared length ends with the chunk that completes it (aiohttp never reads past a
        # Content-Length), which spares the empty closing message: one ASGI send fewer per JSON response.
        remaining = -1 if streaming or length is None else length
        async for chunk in response.content.iter_any():
            remaining -= len(chunk)
            if remaining == 0:
                tap.response_complete = True
                await send({"type": "http.response.body", "body": chunk, "more_body": False})
                tap.on_chunk(chunk)
                return
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            tap.on_chunk(chunk)
            now = loop.time()
            if now + idle > armed:
                armed = now + idle + slack
                deadline.reschedule(armed)
        tap.response_complete = True
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _fail_before_headers(
        self, send: Send, tap: Exchange, exc: GatewayError, route: ProviderRoute
    ) -> None:
        logger.error(
            "proxy request failed",
            extra={"provider_prefix": route.prefix, "path": tap.path, "error": exc.failure_class},
        )
        tap.on_response_start(exc.status, [], streaming=False)
        tap.fail(exc.failure_class, incomplete=False)
        tap.response_complete = True
        await send_plain(
            send, exc.status, exc.message, [(b"x-ongoingai-correlation-id", tap.correlation_id.encode())]
        )

    def _abort(self, tap: Exchange, failure_class: str) -> None:
        tap.fail(failure_class, incomplete=True)
        logger.warning(
            "upstream stream ended early; aborting client response",
            extra={"path": tap.path, "failure_class": failure_class, "stream_chunks": tap.chunks},
        )
        raise StreamAbortedError(failure_class)


class _ClientWatch:
    """Listens on `receive` for the client's disconnect and then cancels the exchange's task, unless the
    response was already complete."""

    __slots__ = ("_receive", "_tap", "_task", "_watcher", "gone")

    def __init__(self, task: asyncio.Task[Any], receive: Receive, tap: Exchange) -> None:
        self._task = task
        self._receive = receive
        self._tap = tap
        self._watcher: asyncio.Task[None] | None = None
        self.gone = False

    def start(self) -> None:
        self._watcher = asyncio.get_running_loop().create_task(self._watch())

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()

    async def _watch(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
        if not self._tap.response_complete:
            self.gone = True
            self._task.cancel()
