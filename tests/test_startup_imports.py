"""Start-up stays light: with the default config, `serve`'s modules, the gateway's start and its first
`GET /api/health` import none of what only an opt-in feature or a rare path needs (issue 2, "Performance":
startup ≤ 1 s, RSS ≤ 80 MB). Each import is checked in a fresh interpreter, so nothing the test process
already loaded can hide one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ongoingai.config import Settings
from ongoingai.store import open_trace_store

# Module prefix → why the default start must not import it.
LAZY = {
    "opentelemetry": "observability.otel.enabled is false: observability/sdk.py is imported only when on",
    "google.protobuf": "the OTLP exporters' wire format, imported with them",
    "prometheus_client": "the scrape endpoint exists only with observability.otel.prometheus_enabled",
    "alembic": "store/migrate.py imports it only when the stored schema is behind HEAD_REVISION",
    "mako": "Alembic's template engine",
    "phonenumbers": "policy/numeric.py imports it at the first phone candidate",
}

# What `ongoingai serve` does, short of binding a port: imports the CLI and serve's modules, configures
# logging, builds the gateway on the SQLite file argv[1], runs the lifespan start, answers one
# `GET /api/health` through the ASGI interface (its access-log line included), stops, and prints every
# module loaded on the way as the last line of stdout.
START_AND_LIST = """
import asyncio, json, sys
import ongoingai.cli.main, ongoingai.cli.serve
from ongoingai.app import build_gateway
from ongoingai.config import Settings
from ongoingai.observability.logging import configure_logging

async def main():
    configure_logging("info", "json")
    gateway = build_gateway(Settings(storage={"driver": "sqlite", "path": sys.argv[1]}))
    started, answered = asyncio.Event(), asyncio.Event()
    lifespan = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    replies, sent = [], []

    async def lifespan_receive():
        message = next(lifespan)
        if message["type"] == "lifespan.shutdown":
            await answered.wait()
        return message

    async def lifespan_send(message):
        replies.append(message)
        started.set()

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    running = asyncio.ensure_future(gateway({"type": "lifespan"}, lifespan_receive, lifespan_send))
    await started.wait()
    if replies[0]["type"] != "lifespan.startup.complete":
        sys.exit(str(replies[0]))
    scope = {"type": "http", "method": "GET", "path": "/api/health", "raw_path": b"/api/health",
             "query_string": b"", "headers": [], "scheme": "http", "http_version": "1.1",
             "server": ("127.0.0.1", 8080), "client": ("127.0.0.1", 5000), "root_path": ""}
    await gateway(scope, receive, send)
    answered.set()
    await running
    print(json.dumps({"status": sent[0]["status"], "modules": sorted(sys.modules)}))

asyncio.run(main())
"""


def loaded_on_start(database: Path) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONGOINGAI_")}  # the default config
    done = subprocess.run(
        [sys.executable, "-c", START_AND_LIST, str(database)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # Log lines come from a writer thread and may follow the result line.
    (line,) = [line for line in done.stdout.splitlines() if line.startswith('{"status"')]
    result = json.loads(line)
    assert result["status"] == 200
    modules: list[str] = result["modules"]
    return modules


def lazy_ones(modules: list[str]) -> dict[str, str]:
    """The `LAZY` entries (prefix → reason) of which at least one module was loaded."""
    return {
        prefix: reason
        for prefix, reason in LAZY.items()
        if any(name == prefix or name.startswith(prefix + ".") for name in modules)
    }


async def test_a_restart_with_default_settings_imports_no_lazy_module(tmp_path: Path) -> None:
    database = tmp_path / "ongoingai.db"
    store = await open_trace_store(Settings(storage={"driver": "sqlite", "path": str(database)}))
    await store.close()  # the first start migrated the schema (Alembic ran then)

    assert lazy_ones(loaded_on_start(database)) == {}


def test_the_guard_sees_a_lazy_module() -> None:
    assert lazy_ones(["sqlalchemy", "alembic.util", "opentelemetry", "google.protobuf.message"]) == {
        "alembic": LAZY["alembic"],
        "opentelemetry": LAZY["opentelemetry"],
        "google.protobuf": LAZY["google.protobuf"],
    }
