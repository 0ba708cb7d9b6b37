"""Reference target, httpx variant: the same aiohttp server as reference_proxy.py, upstream via httpx.

Only the upstream client differs, so one run compares aiohttp's client with httpx.AsyncClient (or with
httpx2, pydantic's fork with the same API, which the lock file already holds for openai/anthropic).
Usage: reference_proxy_httpx.py PORT UPSTREAM_URL [httpx|httpx2]
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import uvloop
from aiohttp import web

if sys.argv[3:] == ["httpx2"]:
    import httpx2 as httpx
else:
    import httpx  # type: ignore[no-redef]

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection", "host"}
CLIENT = web.AppKey("client", httpx.AsyncClient)


async def handle(request: web.Request) -> web.StreamResponse:
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP]
    body = await request.read()
    client = request.app[CLIENT]
    upstream_request = client.build_request(request.method, request.path_qs, headers=headers, content=body)
    upstream = await client.send(upstream_request, stream=True)
    try:
        response = web.StreamResponse(status=upstream.status_code)
        response.headers.extend((k, v) for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP)
        await response.prepare(request)
        async for chunk in upstream.aiter_raw():
            await response.write(chunk)
        await response.write_eof()
        return response
    finally:
        await upstream.aclose()


async def http_client(app: web.Application) -> AsyncIterator[None]:
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    app[CLIENT] = httpx.AsyncClient(base_url=sys.argv[2], limits=limits, timeout=30.0)
    yield
    await app[CLIENT].aclose()


def main() -> None:
    app = web.Application()
    app.cleanup_ctx.append(http_client)
    app.router.add_route("*", "/{tail:.*}", handle)
    loop = uvloop.new_event_loop()
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None, loop=loop)


if __name__ == "__main__":
    main()
