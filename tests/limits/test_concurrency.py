"""Concurrency limits under a real server (issue 8): a slot is held while the proxied response streams
and is released when it ends — completed, abandoned by the client, or broken by the upstream."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from ongoingai.app import Gateway, build_gateway
from ongoingai.limits.memory import MemoryBackend
from tests.fakes.servers import ServerThread
from tests.fakes.upstream import FakeUpstream, Reply
from tests.limits.conftest import CHAT_PATH, HEADER, PROVIDER_KEY, TOKEN_A, TOKEN_B, limit_settings

KEY_SCOPE = "acme|ws1|ka"
STREAM = [b'data: {"choices":[{"delta":{"content":"hi"}}]}\n\n'] * 4 + [b"data: [DONE]\n\n"]


@pytest.fixture
def served(tmp_path: Path, upstream_server: tuple[FakeUpstream, str]) -> Iterator[tuple[Gateway, str]]:
    settings = limit_settings(tmp_path, upstream_server[1], {"per_key": {"max_concurrent_requests": 1}})
    # Anthropic goes to a closed port: an upstream that fails before any header.
    providers = settings.providers.model_copy(
        update={
            "anthropic": settings.providers.anthropic.model_copy(update={"upstream": "http://127.0.0.1:9"})
        }
    )
    gateway = build_gateway(settings.model_copy(update={"providers": providers}))
    server = ServerThread(gateway)
    server.start()
    yield gateway, server.url
    server.stop()


def headers(token: str = TOKEN_A) -> dict[str, str]:
    return {HEADER: token, "Authorization": f"Bearer {PROVIDER_KEY}"}


def in_flight(gateway: Gateway) -> int:
    assert gateway.limits is not None
    backend = gateway.limits.backend
    assert isinstance(backend, MemoryBackend)
    return backend.in_flight(KEY_SCOPE)


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def post(base: str, token: str = TOKEN_A) -> httpx.Response:
    return httpx.post(base + CHAT_PATH, headers=headers(token), json={"stream": True}, timeout=10)


def stream_reply(**kw: object) -> Reply:
    return Reply(
        chunks=list(STREAM),
        headers=[("content-type", "text/event-stream")],
        content_length=False,
        pause=0.2,
        **kw,  # type: ignore[arg-type]
    )


def test_a_slot_is_held_while_streaming_and_released_at_the_end(
    served: tuple[Gateway, str], upstream: FakeUpstream
) -> None:
    gateway, base = served
    upstream.script("/v1/chat/completions", stream_reply())
    with (
        httpx.Client(timeout=10) as client,
        client.stream("POST", base + CHAT_PATH, headers=headers(), json={"stream": True}) as first,
    ):
        assert first.status_code == 200
        chunks = first.iter_raw()  # one iterator: dropping it would close the response
        next(chunks)  # the stream is open upstream and downstream
        assert in_flight(gateway) == 1
        refused = post(base)
        assert refused.status_code == 429
        assert refused.json() == {
            "error": "concurrent request limit exceeded for key",
            "code": "KEY_CONCURRENCY_LIMIT_EXCEEDED",
        }
        other_key = post(base, TOKEN_B)  # the limit is per key: another key is not held up
        assert other_key.status_code == 404  # the fake upstream had no scripted answer for it
        b"".join(chunks)
    eventually(lambda: in_flight(gateway) == 0, "the slot to be released after the stream ended")
    upstream.script("/v1/chat/completions", Reply.json(b"{}"))
    assert post(base).status_code == 200


def test_a_client_that_goes_away_mid_stream_releases_its_slot(
    served: tuple[Gateway, str], upstream: FakeUpstream
) -> None:
    gateway, base = served
    upstream.script("/v1/chat/completions", stream_reply())
    with (
        httpx.Client(timeout=10) as client,
        client.stream("POST", base + CHAT_PATH, headers=headers(), json={"stream": True}) as first,
    ):
        chunks = first.iter_raw()
        next(chunks)
        assert in_flight(gateway) == 1
    # The response was closed unread: the connection is dropped, the gateway cancels the exchange.
    eventually(lambda: in_flight(gateway) == 0, "the slot to be released after the client left")


def test_an_upstream_that_breaks_mid_stream_releases_its_slot(
    served: tuple[Gateway, str], upstream: FakeUpstream
) -> None:
    gateway, base = served
    upstream.script("/v1/chat/completions", stream_reply(reset_after=2))
    with (
        pytest.raises(httpx.HTTPError),
        httpx.Client(timeout=10) as client,
        client.stream("POST", base + CHAT_PATH, headers=headers(), json={"stream": True}) as broken,
    ):
        b"".join(broken.iter_raw())
    eventually(lambda: in_flight(gateway) == 0, "the slot to be released after the upstream reset")


def test_an_unreachable_upstream_releases_its_slot(served: tuple[Gateway, str]) -> None:
    gateway, base = served
    failed = httpx.post(
        base + "/anthropic/v1/messages", headers={**headers(), "x-api-key": "sk-ant-x"}, json={}, timeout=10
    )
    assert failed.status_code == 502
    eventually(lambda: in_flight(gateway) == 0, "the slot to be released after a 502")
    assert failed.status_code == 502 and in_flight(gateway) == 0
