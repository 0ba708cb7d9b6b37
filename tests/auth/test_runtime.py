"""`AuthRuntime` start/stop: the startup errors of auth-and-tenancy.md §1–3, the scheduled refresh that
carries another instance's changes in, and what stop flushes; the gateway's lifespan reports them."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ongoingai.api import TENANT_SCOPE_KEY
from ongoingai.app import build_gateway
from ongoingai.auth.keys import GatewayKey, hash_token
from ongoingai.auth.runtime import AuthRuntime, AuthStartupError
from ongoingai.auth.stores import SqlKeyStore
from ongoingai.config import Settings
from ongoingai.providers.routes import PROVIDERS
from ongoingai.store import SqlTraceStore, open_trace_store
from ongoingai.store.auth_tables import gateway_keys
from ongoingai.store.engine import create_sqlite_engine, prepare_sqlite_file
from tests.auth.conftest import StackFactory, with_auth
from tests.auth.test_lifecycle import DownKeyStore
from tests.fakes.clocks import T0

TOKEN = "tok-runtime-0123456789"


def runtime(settings: Settings, **kw: Any) -> AuthRuntime:
    return AuthRuntime(settings, tenant_scope_key=TENANT_SCOPE_KEY, providers=PROVIDERS, **kw)


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        (
            {"keys": []},
            "failed to initialize auth config: auth is enabled but no gateway keys are configured",
        ),
        (
            {"keys": [{"id": "a", "token": " "}]},
            "failed to initialize auth config: gateway key token cannot be empty",
        ),
        (
            {"keys": [{"id": "a", "token": "t"}, {"id": "b", "token": "t"}]},
            "failed to initialize auth config: duplicate gateway key token in auth config",
        ),
        (
            {"key_store": "database", "keys": []},
            "failed to initialize auth config: auth is enabled but no gateway keys are configured",
        ),
    ],
    ids=["no-keys", "empty-token", "duplicate-token", "empty-database"],
)
async def test_startup_errors(sqlite_settings: Settings, auth: dict[str, Any], message: str) -> None:
    store = await open_trace_store(sqlite_settings)
    rt = runtime(with_auth(sqlite_settings, **auth))
    try:
        with pytest.raises(AuthStartupError) as caught:
            await rt.start(store.engine)
        assert str(caught.value) == message
    finally:
        await rt.stop()
        await store.close()


async def test_an_unreachable_key_store_is_a_startup_error(sqlite_settings: Settings, tmp_path: Path) -> None:
    prepare_sqlite_file(str(tmp_path / "empty.db"))  # unmigrated: the key query fails
    engine = create_sqlite_engine(str(tmp_path / "empty.db"))
    rt = runtime(with_auth(sqlite_settings, key_store="database", keys=[{"id": "a", "token": TOKEN}]))
    try:
        with pytest.raises(AuthStartupError) as caught:
            await rt.start(engine)
        assert str(caught.value) == "failed to initialize gateway key store: OperationalError"
    finally:
        await rt.stop()
        await engine.dispose()


async def test_database_keys_alone_are_enough_to_start(sqlite_settings: Settings) -> None:
    store = await open_trace_store(sqlite_settings)
    await SqlKeyStore(store.engine).create(
        GatewayKey(id="db", token_hash=hash_token(TOKEN), org_id="a", workspace_id="w", created_at=T0)
    )
    rt = runtime(with_auth(sqlite_settings, key_store="database"))
    try:
        await rt.start(store.engine)
        assert rt.cache.verify(hash_token(TOKEN))[0] is not None
        assert rt.audit.record("auth.deny", "denied")  # stamped by the real clock
    finally:
        await rt.stop()
        await store.close()


async def test_with_auth_disabled_there_is_no_guard_and_bad_keys_do_not_stop_the_start(
    sqlite_settings: Settings,
) -> None:
    settings = with_auth(sqlite_settings, keys=[{"id": "a", "token": ""}])
    settings = settings.model_copy(update={"auth": settings.auth.model_copy(update={"enabled": False})})
    rt = runtime(settings)

    await rt.start(None)

    assert rt.guard is None and rt.config_keys == ()
    await rt.stop()


async def test_the_scheduled_refresh_brings_in_changes_made_elsewhere_and_flushes_last_used(
    sqlite_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    store = await open_trace_store(sqlite_settings)
    settings = with_auth(
        sqlite_settings,
        key_store="database",
        keys=[{"id": "boot", "token": TOKEN}],
        cache={"refresh_interval_s": 0.01},
    )
    rt = runtime(settings)
    other = SqlKeyStore(store.engine)  # "another instance" writing to the shared database
    try:
        await rt.start(store.engine)
        assert "loaded gateway keys" in caplog.text
        await other.create(
            GatewayKey(id="new", token_hash=hash_token("new-token"), org_id="a", workspace_id="w")
        )
        rt.last_used.touch("new")
        while rt.cache.verify(hash_token("new-token"))[0] is None:
            await asyncio.sleep(0.01)
        while await _last_used(store) is None:  # a new connection each time: a fresh snapshot
            await asyncio.sleep(0.01)
        await other.revoke("new", None, T0)
        while rt.cache.verify(hash_token("new-token"))[0] is not None:
            await asyncio.sleep(0.01)
    finally:
        await rt.stop()
        await store.close()


async def test_a_failing_scheduled_refresh_is_logged_and_keeps_the_keys(
    sqlite_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    store = await open_trace_store(sqlite_settings)
    settings = with_auth(
        sqlite_settings,
        key_store="database",
        keys=[{"id": "boot", "token": TOKEN}],
        cache={"refresh_interval_s": 0.01},
    )
    rt = runtime(settings)
    try:
        await rt.start(store.engine)
        rt.sql = DownKeyStore()  # the database stops answering under the running refresh
        while "failed to refresh gateway key cache" not in caplog.text:
            await asyncio.sleep(0.01)
        assert rt.cache.verify(hash_token(TOKEN))[0] is not None
    finally:
        rt.sql = None
        await rt.stop()
        await store.close()


async def test_stop_flushes_last_used_and_the_audit_queue(
    make_stack: StackFactory, sqlite_settings: Settings
) -> None:
    keys = [{"id": "boot", "token": TOKEN, "role": "owner"}]
    stack = await make_stack(with_auth(sqlite_settings, key_store="database", keys=keys))
    created = await stack.call("POST", "/api/gateway-keys", TOKEN, json={"id": "k1"})
    assert created.status_code == 201
    stack.runtime.audit.flush_interval_s = 60  # would hold the record in its batch
    await stack.call("GET", "/api/nowhere", TOKEN)
    stack.runtime.last_used.touch("k1")

    await stack.runtime.stop()

    assert stack.runtime.audit.written_total == 2
    async with stack.store.connect() as conn:  # type: ignore[union-attr]
        assert await conn.scalar(sa.select(gateway_keys.c.last_used_at)) is not None


async def _last_used(store: SqlTraceStore) -> Any:
    async with store.connect() as conn:
        return await conn.scalar(sa.select(gateway_keys.c.last_used_at))


async def _lifespan_startup(app: Any) -> dict[str, Any]:
    sent: list[dict[str, Any]] = []
    messages = iter([{"type": "lifespan.startup"}])

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "lifespan"}, receive, send)
    return sent[-1]


async def test_the_gateway_reports_an_auth_startup_error_as_serve_prints_it(
    sqlite_settings: Settings,
) -> None:
    gateway = build_gateway(with_auth(sqlite_settings))

    message = await _lifespan_startup(gateway)

    assert message == {
        "type": "lifespan.startup.failed",
        "message": "failed to initialize auth config: auth is enabled but no gateway keys are configured",
    }
    assert gateway.startup_error == message["message"]
    for hook in reversed(gateway.lifecycle.on_stop):  # what a server does not do after a failed start
        await hook()


class StuckKeyStore(SqlKeyStore):
    """A database that takes the query and never answers."""

    def __init__(self) -> None:
        self.asked = asyncio.Event()

    async def active_keys(self) -> list[GatewayKey]:
        self.asked.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def runtime_tasks() -> set[str]:
    return {t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("ongoingai-")}


async def test_stop_cancels_a_refresh_that_does_not_finish_and_leaves_no_task(
    sqlite_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    store = await open_trace_store(sqlite_settings)
    settings = with_auth(
        sqlite_settings,
        key_store="database",
        keys=[{"id": "boot", "token": TOKEN}],
        cache={"refresh_interval_s": 0.01},
    )
    rt = runtime(settings)
    stuck = StuckKeyStore()
    try:
        await rt.start(store.engine)
        assert runtime_tasks() == {"ongoingai-audit-writer", "ongoingai-key-cache-refresh"}
        rt.sql = stuck
        await stuck.asked.wait()  # the refresh task now waits on a database that never answers
        rt.refresh_stop_timeout_s = 0.01
        await rt.stop()
    finally:
        rt.sql = None
        await store.close()
    assert "gateway key cache refresh did not stop in time; cancelled" in caplog.text
    assert runtime_tasks() == set()


async def test_stop_without_a_hang_waits_for_the_refresh_and_ends_every_task(
    sqlite_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    store = await open_trace_store(sqlite_settings)
    settings = with_auth(sqlite_settings, key_store="database", keys=[{"id": "boot", "token": TOKEN}])
    rt = runtime(settings)
    try:
        await rt.start(store.engine)
        assert runtime_tasks() == {"ongoingai-audit-writer", "ongoingai-key-cache-refresh"}
        await rt.stop()
        await rt.stop()  # idempotent
    finally:
        await store.close()
    assert "did not stop in time" not in caplog.text
    assert runtime_tasks() == set()


async def test_a_failed_start_leaves_no_task_running(sqlite_settings: Settings) -> None:
    store = await open_trace_store(sqlite_settings)
    rt = runtime(with_auth(sqlite_settings, key_store="database", keys=[]))
    try:
        with pytest.raises(AuthStartupError):
            await rt.start(store.engine)
        assert runtime_tasks() == set()  # the audit writer started and was stopped again
    finally:
        await store.close()
