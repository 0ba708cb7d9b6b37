"""Reference ASGI pass-through for the server comparison (uvicorn vs granian): raw ASGI, one aiohttp client.

The same app under both servers isolates the server's cost; the gateway is an ASGI app too.
Upstream from BENCH_UPSTREAM. Serve with `uvicorn reference_asgi:app` or `granian --interface asgi`.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from aiohttp import ClientSession, TCPConnector

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

UPSTREAM = os.environ.get("BENCH_UPSTREAM", "http://127.0.0.1:8000").rstrip("/")
HOP_BY_HOP = {
    b"connection",
    b"keep-alive",
    b"transfer-encoding",
    b"te",
    b"upgrade",
    b"proxy-connection",
    b"host",
}
sessions: list[ClientSession] = []


async def lifespan(receive: Receive, send: Send) -> None:
    for _ in range(2):
        message = await receive()
        if message["type"] == "lifespan.startup":
            sessions.append(ClientSession(connector=TCPConnector(limit=256), auto_decompress=False))
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await sessions.pop().close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: Message, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    body, more = b"", True
    while more:
        message = await receive()
        body, more = body + message.get("body", b""), message.get("more_body", False)
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"] if k not in HOP_BY_HOP]
    query = scope["query_string"].decode("latin-1")
    path = scope.get("raw_path") or scope["path"].encode()
    url = UPSTREAM + path.decode("latin-1") + (f"?{query}" if query else "")
    async with sessions[0].request(scope["method"], url, headers=headers, data=body) as upstream:
        out = [(k.lower(), v) for k, v in upstream.raw_headers if k.lower() not in HOP_BY_HOP]
        await send({"type": "http.response.start", "status": upstream.status, "headers": out})
        async for chunk in upstream.content.iter_any():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
