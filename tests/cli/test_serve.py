"""`ongoingai serve` as a real process: SDK traffic lands in the store; SIGTERM flushes and exits 0;
nothing it wrote (database file, spill folder, logs) contains the provider key (issue 2, issue 3)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from ongoingai.config import Settings
from ongoingai.query.traces import TraceFilter, list_traces
from ongoingai.store import open_trace_store
from tests.e2e import wire
from tests.fakes.sdk import openai_client
from tests.fakes.servers import ServerThread, free_port
from tests.fakes.upstream import FakeUpstream, Reply
from tests.fakes.written import texts_under

pytestmark = pytest.mark.e2e

PROVIDER_KEY = "sk-proj-serveSECRET0123456789abcdefghijklmnopqrstuv"
BINARY = Path(sys.executable).parent / "ongoingai"


@pytest.fixture
def upstream() -> Iterator[tuple[FakeUpstream, str]]:
    fake = FakeUpstream()
    server = ServerThread(fake)
    server.start()
    yield fake, server.url
    server.stop()


def write_config(tmp_path: Path, upstream_url: str, storage: dict[str, str]) -> tuple[Path, int]:
    port = free_port()
    config = {
        "server": {"host": "127.0.0.1", "port": port},
        "storage": storage,
        "providers": {
            "openai": {"upstream": upstream_url, "prefix": "/openai"},
            "anthropic": {"upstream": upstream_url, "prefix": "/anthropic"},
        },
        "tracing": {"capture_bodies": True, "spill": {"path": str(tmp_path / "spill")}},
        "pii": {"mode": "off"},
    }
    path = tmp_path / "ongoingai.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, port


def wait_ready(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited early with {proc.returncode}")
        try:
            if httpx.get(base + "/api/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("serve did not become ready")


def storage_for(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    if backend == "postgres":
        return {"driver": "postgres", "dsn": request.getfixturevalue("postgres_dsn")}
    return {"driver": "sqlite", "path": str(tmp_path / "data" / "ongoingai.db")}


def test_serve_records_traffic_and_stops_cleanly_on_sigterm(
    backend: str, tmp_path: Path, upstream: tuple[FakeUpstream, str], request: pytest.FixtureRequest
) -> None:
    fake, upstream_url = upstream
    storage = storage_for(backend, tmp_path, request)
    config, port = write_config(tmp_path, upstream_url, storage)
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(BINARY), "serve", "--config", str(config)], stdout=out, stderr=out)
        try:
            wait_ready(base, proc)
            fake.script("/v1/chat/completions", Reply.json(wire.CHAT_COMPLETION))
            fake.script("/v1/chat/completions", Reply.sse(wire.chat_stream(["a", "b"])))
            client = openai_client(base + "/openai/v1", PROVIDER_KEY)
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
            for _ in client.chat.completions.create(model="gpt-4o-mini", messages=[], stream=True):
                pass
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30)
    output = log.read_text()
    assert code == 0, output
    assert "flushed pending traces before shutdown" in output
    assert "gateway stopped" in output

    settings = Settings(storage=storage)  # type: ignore[arg-type]
    items = asyncio.run(_stored(settings))
    assert sorted((i.model, i.total_tokens) for i in items) == [
        ("gpt-4o", 29),
        ("gpt-4o-mini", 14),
    ]  # 12 prompt + 2 words

    written = [output]
    if backend == "sqlite":
        written += texts_under(tmp_path / "data")
    written += texts_under(tmp_path / "spill")
    for blob in written:
        assert PROVIDER_KEY not in blob
        assert PROVIDER_KEY[8:30] not in blob


async def _stored(settings: Settings) -> list[object]:
    store = await open_trace_store(settings, migrate=False)
    try:
        async with store.connect() as conn:
            page = await list_traces(conn, TraceFilter(limit=10))
        return list(page.items)
    finally:
        await store.close()


def test_serve_with_unreachable_postgres_exits_1_with_message(tmp_path: Path) -> None:
    dead = f"postgresql://postgres:hunter2secret@127.0.0.1:{free_port()}/nope"
    config, _ = write_config(tmp_path, "http://127.0.0.1:9", {"driver": "postgres", "dsn": dead})
    result = subprocess.run(
        [str(BINARY), "serve", "--config", str(config)], capture_output=True, timeout=60, check=False
    )
    assert result.returncode == 1
    assert b"failed to initialize postgres storage" in result.stderr
    assert b"hunter2secret" not in result.stderr + result.stdout


async def test_settling_the_heap_freezes_what_start_up_built_and_raises_the_young_threshold() -> None:
    import gc

    from ongoingai.cli.serve import GC_YOUNG_THRESHOLD, settle_heap

    threshold = gc.get_threshold()
    built_at_start = object.__new__(type("BuiltAtStart", (), {}))  # a tracked object alive before the hook
    try:
        await settle_heap()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, threshold[1], threshold[2])
        assert gc.is_tracked(built_at_start) and not any(o is built_at_start for o in gc.get_objects())
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
