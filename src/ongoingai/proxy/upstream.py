"""One shared pooled upstream client (aiohttp). Library exceptions are translated here, at the boundary."""

from __future__ import annotations

import aiohttp
from yarl import URL

from ongoingai.http.errors import UpstreamTimeout, UpstreamUnreachable

# Errors that mean "the upstream connection broke" (before headers: unreachable; after: reset).
CONNECTION_ERRORS = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, ConnectionError)


class UpstreamClient:
    """A keep-alive connection pool shared by every proxied request.

    `auto_decompress=False`: the client gets the upstream's bytes unchanged (the capture copy is decoded
    separately). No cookie jar: cookies from one client must never ride on another client's request.
    """

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        # One (frozen) ClientTimeout per configured connect timeout, not one built per request.
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=60)
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None),
            raise_for_status=False,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def open(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        skip_auto_headers: tuple[str, ...],
        body: bytes,
        connect_timeout: float,
    ) -> aiohttp.ClientResponse:
        """Send the request and return once response headers arrived.

        Raises:
            UpstreamTimeout: no connection within `connect_timeout` (`connect_timeout`).
            UpstreamUnreachable: connect/DNS/TLS failure or reset before headers (`upstream_unreachable`).
        """
        if self._session is None:
            raise RuntimeError("upstream client not started")
        timeout = self._timeouts.get(connect_timeout)
        if timeout is None:
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout)
            self._timeouts[connect_timeout] = timeout
        try:
            return await self._session.request(
                method,
                URL(url, encoded=True),
                headers=headers,
                skip_auto_headers=skip_auto_headers,
                data=body if body else None,
                allow_redirects=False,
                compress=None,
                timeout=timeout,
            )
        except aiohttp.ConnectionTimeoutError as exc:
            raise UpstreamTimeout(failure_class="connect_timeout") from exc
        except CONNECTION_ERRORS as exc:
            raise UpstreamUnreachable(failure_class="upstream_unreachable") from exc
