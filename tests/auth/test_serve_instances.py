"""Two `ongoingai serve` processes on one Postgres (issue 4): a key created on one works on the other
after its next refresh, a revocation on one stops the token on the other within the refresh interval,
and nothing either process wrote (logs, tables) holds a gateway token."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest
import yaml

from tests.fakes.servers import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

BINARY = Path(sys.executable).parent / "ongoingai"
OWNER = "ogk_serveOWNERbootstrap_abcdefghijklmn"
HEADER = "X-OngoingAI-Gateway-Key"
REFRESH_S = 0.5


def write_config(tmp_path: Path, name: str, dsn: str) -> tuple[Path, str]:
    port = free_port()
    config = {
        "server": {"host": "127.0.0.1", "port": port},
        "storage": {"driver": "postgres", "dsn": dsn, "pool": {"min_size": 1, "max_size": 4}},
        "tracing": {"spill": {"path": str(tmp_path / f"spill-{name}")}},
        "auth": {
            "enabled": True,
            "key_store": "database",
            "cache": {"refresh_interval_s": REFRESH_S, "max_staleness_s": 10},
            "keys": [
                {"id": "owner", "token": OWNER, "role": "owner", "org_id": "acme", "workspace_id": "ws"}
            ],
        },
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, f"http://127.0.0.1:{port}"


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll `check` until true; returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def status(base: str, token: str) -> int:
    try:
        return httpx.get(base + "/api/traces", headers={HEADER: token}, timeout=2).status_code
    except httpx.TransportError:
        return 0


@dataclass
class Cluster:
    a: str
    b: str
    secrets: list[str] = field(default_factory=lambda: [OWNER])  # scanned for in the logs at the end


@pytest.fixture
def cluster(tmp_path: Path, postgres_dsn: str) -> Iterator[Cluster]:
    """Both instances started and ready; on teardown SIGTERM → exit 0, and their logs hold no secret."""
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    bases = []
    for name in ("a", "b"):
        config, base = write_config(tmp_path, name, postgres_dsn)
        logs.append(tmp_path / f"{name}.log")
        with logs[-1].open("wb") as out:
            procs.append(
                subprocess.Popen([str(BINARY), "serve", "--config", str(config)], stdout=out, stderr=out)
            )
        bases.append(base)
    cluster = Cluster(*bases)
    try:
        for proc, base in zip(procs, bases, strict=True):
            wait_until(
                lambda b=base, p=proc: p.poll() is None and status(b, OWNER) == 200, 30, f"{base} ready"
            )  # type: ignore[misc]
        yield cluster
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(timeout=30) for proc in procs]
    text = "\n".join(log.read_text() for log in logs)
    assert codes == [0, 0], text
    assert text.count("gateway stopped") == 2
    for secret in cluster.secrets:
        assert secret not in text
        assert secret[4:20] not in text


async def _dump_tables(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        parts = []
        for table in ("gateway_keys", "audit_events", "traces", "organizations", "workspaces"):
            rows = await conn.fetch(f"SELECT * FROM {table}")  # fixed table names
            parts.extend(repr(dict(r)) for r in rows)
        return "\n".join(parts)
    finally:
        await conn.close()


def test_a_revocation_on_one_instance_reaches_the_other_within_the_refresh_interval(
    cluster: Cluster, postgres_dsn: str
) -> None:
    a, b = cluster.a, cluster.b
    created = httpx.post(a + "/api/gateway-keys", headers={HEADER: OWNER}, json={"id": "shared"}, timeout=5)
    assert created.status_code == 201
    token = created.json()["token"]
    cluster.secrets.append(token)
    assert status(a, token) == 200  # at once on the instance that created it

    wait_until(lambda: status(b, token) == 200, 5 * REFRESH_S + 5, "the new key on instance b")

    revoked = httpx.delete(a + "/api/gateway-keys/shared", headers={HEADER: OWNER}, timeout=5)
    assert revoked.status_code == 204
    assert status(a, token) == 401
    took = wait_until(lambda: status(b, token) == 401, REFRESH_S + 5, "the revocation on instance b")
    print(f"revocation reached instance b after {took:.3f}s (refresh interval {REFRESH_S}s)")

    second = httpx.post(b + "/api/gateway-keys", headers={HEADER: OWNER}, json={"id": "second"}, timeout=5)
    old = second.json()["token"]
    wait_until(lambda: status(a, old) == 200, 5 * REFRESH_S + 5, "the second key on instance a")
    new = httpx.post(b + "/api/gateway-keys/second/rotate", headers={HEADER: OWNER}, timeout=5).json()[
        "token"
    ]
    cluster.secrets += [old, new]
    wait_until(lambda: status(a, old) == 401 and status(a, new) == 200, REFRESH_S + 5, "the rotation on a")
    httpx.get(a + "/api/nowhere", headers={HEADER: new}, timeout=5)  # a denial with a known key, logged
    httpx.get(a + "/api/traces", headers={HEADER: new + "x"}, timeout=5)  # an unknown token, logged

    tables = asyncio.run(_dump_tables(postgres_dsn))
    assert "shared" in tables and "second" in tables  # the dump saw the key rows
    for secret in cluster.secrets:
        assert secret not in tables
