"""`ongoingai doctor` (config-and-cli.md §7 with DEVIATIONS.md): `doctor.v1`, the fixed check order with a
`migrations` check and a `hint` on every check, statuses and exit codes, and never migrating.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ongoingai.config import Settings
from ongoingai.store.engine import create_engine_for
from ongoingai.store.migrate import current_revisions, upgrade
from tests.cli.stores import EPOCH, as_process, help_options, in_process, seed, storage_for, write_config
from tests.fakes.servers import free_port

ORDER = ["config", "storage", "migrations", "route_wiring", "auth_posture", "limits"]
KEY = {"id": "ops", "token": "gwk_doctor_token_1", "role": "admin"}


def doctor(config: Path, *flags: str) -> tuple[int, dict[str, Any]]:
    result = in_process(
        ["doctor", "--config", str(config), "--format", "json", *flags], env={"SOURCE_DATE_EPOCH": EPOCH}
    )
    assert result.stderr == ""
    return result.exit_code, json.loads(result.stdout)


def checks(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in doc["checks"]}


@pytest.fixture
def sqlite_storage(tmp_path: Path) -> dict[str, Any]:
    storage = storage_for("sqlite", tmp_path)
    seed(storage, [])
    return storage


def test_a_healthy_gateway_with_auth_off_warns_and_exits_0(
    tmp_path: Path, sqlite_storage: dict[str, Any]
) -> None:
    code, doc = doctor(write_config(tmp_path, sqlite_storage))

    assert code == 0
    assert list(doc) == ["schema_version", "generated_at", "config_path", "overall_status", "checks"]
    assert (doc["schema_version"], doc["generated_at"], doc["overall_status"]) == (
        "doctor.v1",
        "2023-11-14T22:13:20Z",
        "warn",
    )
    assert [c["name"] for c in doc["checks"]] == ORDER
    assert all(isinstance(c["hint"], str) and c["hint"] for c in doc["checks"])
    by = checks(doc)
    assert [by[n]["status"] for n in ORDER] == ["pass", "pass", "pass", "pass", "warn", "pass"]
    assert by["storage"]["details"] == [f"path: {sqlite_storage['path']}"]
    assert by["route_wiring"]["details"] == [
        "openai: /openai -> https://api.openai.com",
        "anthropic: /anthropic -> https://api.anthropic.com",
        "api routes: /api/*",
    ]
    assert by["auth_posture"]["summary"] == "gateway auth is disabled"
    assert by["auth_posture"]["details"][1] == "6 protected authorization rules are bypassed"


def test_auth_on_with_a_key_passes_everything(tmp_path: Path, sqlite_storage: dict[str, Any]) -> None:
    code, doc = doctor(write_config(tmp_path, sqlite_storage, auth={"enabled": True, "keys": [KEY]}))

    assert (code, doc["overall_status"]) == (0, "pass")
    assert checks(doc)["auth_posture"]["details"] == [
        "auth header: X-OngoingAI-Gateway-Key",
        "active gateway keys: 1",
        "protected authorization rules: 6",
    ]


@pytest.mark.parametrize(
    ("auth", "summary"),
    [
        ({"enabled": True}, "gateway auth configuration is not runnable"),
        (
            {"enabled": True, "keys": [{**KEY, "expires_at": "2001-01-01T00:00:00Z"}]},
            "gateway auth configuration is not runnable",
        ),
        ({"enabled": False, "header": "X-API-Key"}, "auth header conflicts with provider credential headers"),
    ],
    ids=["no-keys", "only-expired-keys", "credential-header"],
)
def test_auth_posture_failures_exit_1(
    tmp_path: Path, sqlite_storage: dict[str, Any], auth: dict[str, Any], summary: str
) -> None:
    code, doc = doctor(write_config(tmp_path, sqlite_storage, auth=auth))

    assert (code, doc["overall_status"]) == (1, "fail")
    assert (checks(doc)["auth_posture"]["status"], checks(doc)["auth_posture"]["summary"]) == (
        "fail",
        summary,
    )


@pytest.mark.parametrize(
    ("providers", "summary"),
    [
        ({"openai": {"prefix": "/"}}, "provider prefixes must not be root ('/')"),
        (
            {"openai": {"prefix": "/llm"}, "anthropic": {"prefix": "/llm/anthropic"}},
            "provider route prefixes overlap",
        ),
        ({"anthropic": {"prefix": "/api/anthropic"}}, "provider prefixes must not overlap with /api routes"),
    ],
)
def test_route_wiring_failures(
    tmp_path: Path, sqlite_storage: dict[str, Any], providers: dict[str, Any], summary: str
) -> None:
    code, doc = doctor(write_config(tmp_path, sqlite_storage, providers=providers))

    assert code == 1
    assert (checks(doc)["route_wiring"]["status"], checks(doc)["route_wiring"]["summary"]) == (
        "fail",
        summary,
    )


@pytest.mark.parametrize(
    ("text", "summary", "skip"),
    [
        ("server: [", "failed to load config", "skipped: config failed to load"),
        ("server:\n  port: 0\n", "config is invalid", "skipped: config validation failed"),
    ],
)
def test_config_failures_skip_the_rest(tmp_path: Path, text: str, summary: str, skip: str) -> None:
    config = tmp_path / "ongoingai.yaml"
    config.write_text(text, encoding="utf-8")

    code, doc = doctor(config)

    assert code == 1
    assert [(c["name"], c["status"]) for c in doc["checks"]] == [("config", "fail")] + [
        (n, "skip") for n in ORDER[1:]
    ]
    assert doc["checks"][0]["summary"] == summary
    assert all(c["summary"] == skip for c in doc["checks"][1:])


def test_a_missing_sqlite_file_is_a_warning_and_is_not_created(tmp_path: Path) -> None:
    db = tmp_path / "data" / "ongoingai.db"

    code, doc = doctor(write_config(tmp_path, {"driver": "sqlite", "path": str(db)}))

    assert code == 0
    assert (checks(doc)["storage"]["status"], checks(doc)["migrations"]["status"]) == ("warn", "skip")
    assert not db.exists()


def test_unreachable_postgres_fails(tmp_path: Path) -> None:
    dsn = f"postgresql://postgres:pw@127.0.0.1:{free_port()}/nothing"

    code, doc = doctor(write_config(tmp_path, {"driver": "postgres", "dsn": dsn}))

    assert code == 1
    assert checks(doc)["storage"]["summary"] == "failed to initialize trace storage"
    assert checks(doc)["migrations"]["status"] == "skip"
    assert "pw@" not in json.dumps(doc)


async def _behind(settings: Settings, revision: str | None) -> set[str]:
    engine = create_engine_for(settings)
    try:
        if revision is not None:
            await upgrade(engine, revision)
        return await current_revisions(engine)
    finally:
        await engine.dispose()


async def _stamp(settings: Settings, revision: str) -> None:
    engine = create_engine_for(settings)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": revision})
    finally:
        await engine.dispose()


def test_a_behind_schema_is_reported_never_migrated_and_blocks_report(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    storage = storage_for(backend, tmp_path, request)
    settings = Settings(storage=storage)
    before = asyncio.run(_behind(settings, "0001_create_traces"))
    config = write_config(tmp_path, storage)

    code, doc = doctor(config)
    report = in_process(["report", "--config", str(config)])
    debug = in_process(["debug", "--config", str(config)])

    assert code == 0
    migrations = checks(doc)["migrations"]
    assert (migrations["status"], migrations["summary"]) == ("warn", "schema behind")
    assert "ongoingai serve" in migrations["hint"]
    assert checks(doc)["storage"]["status"] == "pass"
    for result in (report, debug):
        assert result.exit_code == 1
        assert result.stderr.startswith("schema behind")
    assert asyncio.run(_behind(settings, None)) == before == {"0001_create_traces"}


def test_a_schema_from_a_newer_build_fails(tmp_path: Path, sqlite_storage: dict[str, Any]) -> None:
    asyncio.run(_stamp(Settings(storage=sqlite_storage), "9999_from_the_future"))

    code, doc = doctor(write_config(tmp_path, sqlite_storage))

    assert code == 1
    assert checks(doc)["migrations"]["status"] == "fail"


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    positional = in_process(["doctor", "now"])
    bad_format = in_process(["doctor", "--format", "html"])

    assert (positional.exit_code, positional.stderr) == (2, "doctor does not accept positional arguments\n")
    assert (bad_format.exit_code, bad_format.stderr) == (
        2,
        'invalid doctor format "html": expected text or json\n',
    )


def test_text_mode(tmp_path: Path, sqlite_storage: dict[str, Any]) -> None:
    result = in_process(["doctor", "--config", str(write_config(tmp_path, sqlite_storage))])

    lines = result.stdout.splitlines()
    assert lines[0] == "OngoingAI Doctor"
    assert "- [PASS] config: loaded and validated configuration" in lines
    assert "- [WARN] auth_posture: gateway auth is disabled" in lines
    assert "  hint: no action needed" in lines
    assert "Overall status  WARN" in lines


def test_subprocess_doctor_on_both_backends(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    storage = storage_for(backend, tmp_path, request)
    seed(storage, [])
    config = write_config(tmp_path, storage, auth={"enabled": True, "keys": [KEY]})
    args = ["doctor", "--config", str(config), "--format", "json"]

    first = as_process(args, env={"SOURCE_DATE_EPOCH": EPOCH})
    second = as_process(args, env={"SOURCE_DATE_EPOCH": EPOCH})

    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    doc = json.loads(first.stdout)
    assert doc["overall_status"] == "pass"
    assert checks(doc)["storage"]["summary"] == f"connected to {backend} trace storage"
    assert b"gwk_doctor_token_1" not in first.stdout


def test_help_lists_the_spec_flags() -> None:
    text = help_options("doctor")

    for flag in ["--config", "--format"]:
        assert flag in text, flag
