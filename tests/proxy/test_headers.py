"""Header rules both ways (proxy.md §3, §5; DEVIATIONS: the gateway key is never forwarded)."""

from __future__ import annotations

from ongoingai.proxy.headers import downstream_response_headers, upstream_request_headers


def forward(
    raw: list[tuple[bytes, bytes]], client_ip: str = "10.0.0.9"
) -> tuple[list[tuple[str, str]], tuple[str, ...]]:
    return upstream_request_headers(
        raw, client_ip=client_ip, correlation_id="corr-1", gateway_header=b"x-custom-gateway-key"
    )


def test_hop_by_hop_and_connection_named_headers_are_dropped() -> None:
    out, _ = forward(
        [
            (b"connection", b"keep-alive, X-Secret-Hop"),
            (b"x-secret-hop", b"1"),
            (b"keep-alive", b"timeout=5"),
            (b"proxy-authorization", b"Basic abc"),
            (b"transfer-encoding", b"chunked"),
            (b"upgrade", b"h2c"),
            (b"te", b"gzip"),
            (b"host", b"gateway.local"),
            (b"content-length", b"12"),
            (b"x-keep", b"yes"),
        ]
    )
    names = [name.lower() for name, _ in out]
    assert names == ["x-keep", "x-forwarded-for", "x-ongoingai-correlation-id"]


def test_te_trailers_is_kept() -> None:
    out, _ = forward([(b"te", b"trailers")])
    assert ("TE", "trailers") in out


def test_credentials_pass_through_and_gateway_key_never_does() -> None:
    out, _ = forward(
        [
            (b"authorization", b"Bearer sk-abc"),
            (b"x-api-key", b"sk-ant-xyz"),
            (b"x-custom-gateway-key", b"gwk"),
        ]
    )
    assert ("authorization", "Bearer sk-abc") in out
    assert ("x-api-key", "sk-ant-xyz") in out
    assert all(name != "x-custom-gateway-key" for name, _ in out)


def test_forwarded_for_is_appended_and_correlation_replaced() -> None:
    out, _ = forward(
        [
            (b"x-forwarded-for", b"1.1.1.1"),
            (b"x-forwarded-for", b"2.2.2.2"),
            (b"x-ongoingai-correlation-id", b"old"),
        ]
    )
    assert ("X-Forwarded-For", "1.1.1.1, 2.2.2.2, 10.0.0.9") in out
    assert [v for n, v in out if n.lower() == "x-ongoingai-correlation-id"] == ["corr-1"]


def test_auto_headers_suppressed_only_when_client_sent_none() -> None:
    _, skip = forward([(b"accept-encoding", b"gzip"), (b"content-type", b"application/json")])
    assert set(skip) == {"Accept", "User-Agent"}


def test_response_headers_lose_hop_by_hop_and_gain_correlation() -> None:
    out = downstream_response_headers(
        [
            (b"Content-Type", b"text/event-stream"),
            (b"Transfer-Encoding", b"chunked"),
            (b"Connection", b"close"),
            (b"X-Request-Id", b"req_1"),
        ],
        b"corr-9",
    )
    assert out == [
        (b"content-type", b"text/event-stream"),
        (b"x-request-id", b"req_1"),
        (b"x-ongoingai-correlation-id", b"corr-9"),
    ]
