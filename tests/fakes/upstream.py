"""A fake provider upstream (plain ASGI) that records what it received and replays scripted answers.

Tests script the next answer per path (`fake.script(path, Reply(...))`); unscripted paths answer
from `defaults`. Replies can stream chunks with pauses, stall before headers, or reset mid-body, so
every failure class of the proxy can be produced on loopback.
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class Reply:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=lambda: [("content-type", "application/json")])
    chunks: list[bytes] = field(default_factory=list)
    pause: float = 0.0  # seconds between chunks
    stall_before_headers: float = 0.0
    reset_after: int | None = None  # close the connection after this many chunks
    content_length: bool = True  # send Content-Length (non-chunked) when True

    @classmethod
    def json(cls, body: bytes, status: int = 200, **kw: Any) -> Reply:
        return cls(status=status, chunks=[body], **kw)

    @classmethod
    def sse(cls, body: bytes, *, split_events: bool = True, **kw: Any) -> Reply:
        """Stream an SSE body; with split_events each event is its own write (as providers do)."""
        if split_events:
            parts = [p + b"\n\n" for p in body.replace(b"\r\n", b"\n").split(b"\n\n") if p.strip()]
        else:
            parts = [body]
        kw.setdefault("headers", [("content-type", "text/event-stream; charset=utf-8")])
        return cls(chunks=parts, content_length=False, **kw)


@dataclass
class Received:
    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.header_values(name)
        return values[0] if values else None

    def header_values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


class _ResetError(Exception):
    pass


class FakeUpstream:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.sent: list[bytes] = []  # exact bytes of each body sent, in request order
        self._scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self._lock = threading.Lock()

    def script(self, path: str, *replies: Reply) -> None:
        with self._lock:
            self._scripts[path].extend(replies)

    def reset(self) -> None:
        with self._lock:
            self.received.clear()
            self.sent.clear()
            self._scripts.clear()

    def _next(self, path: str) -> Reply:
        with self._lock:
            queue = self._scripts.get(path)
            if queue:
                return queue.popleft()
        return Reply.json(b'{"error":{"message":"no scripted reply","type":"invalid_request_error"}}', 404)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        self.received.append(
            Received(scope["method"], scope["path"], scope["query_string"].decode(), headers, body)
        )
        reply = self._next(scope["path"])
        if reply.stall_before_headers:
            await asyncio.sleep(reply.stall_before_headers)
        await self._send(reply, send)

    async def _send(self, reply: Reply, send: Any) -> None:
        payload = b"".join(reply.chunks)
        self.sent.append(payload)
        headers = [(k.encode(), v.encode()) for k, v in reply.headers]
        if reply.content_length:
            headers.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        for i, chunk in enumerate(reply.chunks):
            if reply.reset_after is not None and i >= reply.reset_after:
                raise _ResetError("scripted reset")
            if i and reply.pause:
                await asyncio.sleep(reply.pause)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if reply.reset_after is not None:
            raise _ResetError("scripted reset")
        await send({"type": "http.response.body", "body": b"", "more_body": False})
