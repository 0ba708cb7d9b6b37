"""Header rules both ways (proxy.md §3, §5): hop-by-hop removal, Host, X-Forwarded-For, gateway key."""

from __future__ import annotations

from collections.abc import Iterable

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"proxy-connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
CORRELATION = b"x-ongoingai-correlation-id"
# aiohttp adds these when absent; the upstream must see only what the client sent (an added
# Accept-Encoding would make the upstream compress a body the client never asked to decode).
AUTO_HEADERS = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")


def _connection_named(headers: Iterable[tuple[bytes, bytes]]) -> set[bytes]:
    named: set[bytes] = set()
    for name, value in headers:
        if name == b"connection":
            named.update(t.strip().lower() for t in value.split(b",") if t.strip())
    return named


def upstream_request_headers(
    raw: list[tuple[bytes, bytes]],
    *,
    client_ip: str,
    correlation_id: str,
    gateway_header: bytes,
) -> tuple[list[tuple[str, str]], tuple[str, ...]]:
    """Headers to forward, plus the aiohttp auto-headers to suppress because the client sent none.

    `Host` and `Content-Length` are left to the client library (upstream host; the exact body length).
    The gateway-key header is never forwarded (DEVIATIONS.md), in any auth mode.
    """
    drop = HOP_BY_HOP | _connection_named(raw) | {b"host", b"content-length", CORRELATION, gateway_header}
    out: list[tuple[str, str]] = []
    forwarded_for = ""
    present: set[bytes] = set()
    for name, value in raw:
        if name == b"te" and value.strip().lower() == b"trailers":
            out.append(("TE", "trailers"))
            continue
        if name in drop:
            continue
        if name == b"x-forwarded-for":
            forwarded_for = (
                f"{forwarded_for}, {value.decode('latin-1')}" if forwarded_for else value.decode("latin-1")
            )
            continue
        present.add(name)
        out.append((name.decode("latin-1"), value.decode("latin-1")))
    if client_ip:
        forwarded_for = f"{forwarded_for}, {client_ip}" if forwarded_for else client_ip
    if forwarded_for:
        out.append(("X-Forwarded-For", forwarded_for))
    out.append(("X-OngoingAI-Correlation-ID", correlation_id))
    skip = tuple(h for h in AUTO_HEADERS if h.lower().encode() not in present)
    return out, skip


def downstream_response_headers(
    raw: Iterable[tuple[bytes, bytes]], correlation_id: bytes
) -> list[tuple[bytes, bytes]]:
    """Upstream response headers minus hop-by-hop ones, plus the correlation id."""
    items = list(raw)
    drop = HOP_BY_HOP | _connection_named(items) | {CORRELATION}
    out = [(name.lower(), value) for name, value in items if name.lower() not in drop]
    out.append((CORRELATION, correlation_id))
    return out
