"""Auth end to end (issue 4): the production wiring (`build_gateway`) under uvicorn, the official SDKs,
a key created, used, rotated, revoked through the API; the security list of refused keys; and a scan
of everything written (database file, logs, upstream requests, API responses) for the gateway tokens."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from ongoingai.app import build_gateway
from ongoingai.config import Settings
from tests.e2e import wire
from tests.e2e.conftest import ANTHROPIC_KEY, PROVIDER_KEY
from tests.fakes.sdk import openai_client
from tests.fakes.servers import ServerThread
from tests.fakes.upstream import FakeUpstream, Reply
from tests.fakes.written import texts_under

pytestmark = pytest.mark.e2e

OWNER = "ogk_e2eOWNERbootstrap_abcdefghijklmnop"
VIEWER = "ogk_e2eVIEWERbootstrap_abcdefghijklmn"
HEADER = "X-OngoingAI-Gateway-Key"


@dataclass
class Served:
    url: str
    db: Path

    def api(self, method: str, path: str, token: str | None = OWNER, **kw: Any) -> httpx.Response:
        headers = {HEADER: token} if token else {}
        return httpx.request(method, self.url + path, headers=headers, timeout=10, **kw)

    def openai(self, token: str, **kw: Any) -> openai.OpenAI:
        return openai_client(self.url + "/openai/v1", PROVIDER_KEY, default_headers={HEADER: token}, **kw)


@pytest.fixture
def served(
    fake: FakeUpstream, fake_server: tuple[FakeUpstream, ServerThread], tmp_path: Path
) -> Iterator[Served]:
    _, upstream = fake_server
    db = tmp_path / "data" / "ongoingai.db"
    settings = Settings(
        storage={"driver": "sqlite", "path": str(db)},
        providers={
            "openai": {"upstream": upstream.url, "prefix": "/openai"},
            "anthropic": {"upstream": upstream.url, "prefix": "/anthropic"},
        },
        tracing={"capture_bodies": True, "spill": {"path": str(tmp_path / "spill")}},
        pii={"mode": "off"},
        auth={
            "enabled": True,
            "key_store": "database",
            "keys": [
                {"id": "owner", "token": OWNER, "role": "owner", "org_id": "acme", "workspace_id": "ws1"},
                {"id": "viewer", "token": VIEWER, "role": "viewer", "org_id": "acme", "workspace_id": "ws1"},
            ],
        },
    )
    server = ServerThread(build_gateway(settings))
    server.start()
    yield Served(server.url, db)
    server.stop()


def wait_for(served: Served, path: str, count: int, token: str = OWNER) -> list[dict[str, Any]]:
    """Poll a list route until it has `count` items (traces and audit records are written async)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        items: list[dict[str, Any]] = served.api("GET", path, token).json()["items"]
        if len(items) >= count:
            return items
        time.sleep(0.05)
    raise AssertionError(f"expected {count} items from {path}")


def wait_for_traces(served: Served, count: int, token: str = OWNER) -> list[dict[str, Any]]:
    return wait_for(served, "/api/traces", count, token)


def test_a_created_key_proxies_through_the_sdks_and_its_traces_carry_its_tenant(
    served: Served, fake: FakeUpstream
) -> None:
    created = served.api("POST", "/api/gateway-keys", json={"id": "dev-1", "name": "ci"}).json()
    token = created["token"]
    fake.script("/v1/chat/completions", Reply.json(wire.CHAT_COMPLETION))
    fake.script("/v1/messages", Reply.json(wire.ANTHROPIC_MESSAGE))

    with served.openai(token) as client:
        chat = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    with anthropic.Anthropic(
        base_url=served.url + "/anthropic",
        api_key=ANTHROPIC_KEY,
        max_retries=0,
        default_headers={HEADER: token},
    ) as claude:
        message = claude.messages.create(
            model="claude-sonnet-4-6", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )

    assert chat.usage is not None and chat.usage.total_tokens == 29
    assert message.usage.output_tokens > 0
    items = wait_for_traces(served, 2, token)
    detail = served.api("GET", f"/api/traces/{items[0]['id']}", token).json()
    assert detail["metadata"]["gateway_key_id"] == "dev-1"
    assert (detail["metadata"]["org_id"], detail["metadata"]["workspace_id"]) == ("acme", "ws1")
    for received in fake.received:
        assert received.header(HEADER) is None


@pytest.mark.parametrize(
    "header", ["x-ongoingai-gateway-key", "X-ONGOINGAI-GATEWAY-KEY", "X-OngoingAI-Gateway-Key"]
)
def test_the_header_name_is_case_insensitive_on_the_wire(served: Served, header: str) -> None:
    response = httpx.get(served.url + "/api/traces", headers={header: OWNER})

    assert response.status_code == 200


def test_the_security_list(served: Served, fake: FakeUpstream) -> None:
    created = served.api(
        "POST", "/api/gateway-keys", json={"id": "short-lived", "expires_at": "2099-01-01T00:00:00Z"}
    ).json()
    revoked = served.api("POST", "/api/gateway-keys", json={"id": "revoked"}).json()["token"]
    served.api("DELETE", "/api/gateway-keys/revoked")
    rotated_out = served.api("POST", "/api/gateway-keys", json={"id": "rotated"}).json()["token"]
    served.api("POST", "/api/gateway-keys/rotated/rotate")
    messages = [{"role": "user", "content": "hi"}]

    for token in ("", "not-a-key", OWNER[:-1], revoked, rotated_out):
        with served.openai(token) as client, pytest.raises(openai.AuthenticationError) as caught:
            client.chat.completions.create(model="gpt-4o", messages=messages)  # type: ignore[arg-type]
        assert (caught.value.status_code, caught.value.body) == (401, "missing or invalid gateway key")
    with served.openai(VIEWER) as client, pytest.raises(openai.PermissionDeniedError) as denied:
        client.chat.completions.create(model="gpt-4o", messages=messages)  # type: ignore[arg-type]
    assert denied.value.body == "gateway key does not have required permission"
    assert created["expires_at"] == "2099-01-01T00:00:00Z"
    assert fake.received == []  # nothing refused reached the upstream
    # only the denial that knew its key belongs to the tenant; the anonymous 401s belong to no tenant
    audit = wait_for(served, "/api/audit?action=auth.deny&limit=200", 1)
    assert {i["reason"] for i in audit} == {"permission_denied"}


def test_gateway_tokens_appear_only_in_create_and_rotate_answers(
    served: Served, fake: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    created = served.api("POST", "/api/gateway-keys", json={"id": "k1"})
    first = created.json()["token"]
    rotated = served.api("POST", "/api/gateway-keys/k1/rotate", json={"grace_seconds": 600})
    second = rotated.json()["token"]
    fake.script("/v1/chat/completions", Reply.json(wire.CHAT_COMPLETION), Reply.json(wire.CHAT_COMPLETION))
    for token in (first, second):
        with served.openai(token) as client:
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    served.api("GET", "/api/traces", second)
    served.api("GET", "/api/nowhere", second)
    items = wait_for_traces(served, 2)
    answers = [
        served.api("GET", "/api/gateway-keys"),
        served.api("GET", "/api/traces"),
        *(served.api("GET", f"/api/traces/{i['id']}") for i in items),
        served.api("GET", "/api/audit?limit=200"),
        served.api("DELETE", "/api/gateway-keys/k1"),
        served.api("GET", "/api/diagnostics/trace-pipeline"),
    ]
    assert first in created.text and second in rotated.text

    wait_for(served, "/api/audit?action=key.revoke", 1)  # the last audit batch landed in the file
    written = [a.text for a in answers]
    written += [f"{r.getMessage()} {r.__dict__}" for r in caplog.records]
    written += texts_under(served.db.parent)
    written += [repr(r.headers) + r.body.decode("latin-1") for r in fake.received]
    blob = "\n".join(written)
    for secret in (OWNER, VIEWER, first, second):
        assert secret not in blob
        assert secret[4:20] not in blob
    assert "audit gateway key lifecycle" in blob  # the scan saw the audit logs
