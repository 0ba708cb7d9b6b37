"""`ongoingai report` (config-and-cli.md §4–5): flags and messages, `report.v1` JSON, the same answers as
the API for the same data, text sections and chart, read-only behaviour, subprocess runs on both backends.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from ongoingai.api import create_api
from ongoingai.store import open_trace_store
from tests.cli.stores import (
    EPOCH,
    as_process,
    help_options,
    in_process,
    seed,
    settings_of,
    storage_for,
    write_config,
)
from tests.fakes.analytics_traces import HAND, generated


@pytest.fixture
def sqlite_config(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    storage = storage_for("sqlite", tmp_path)
    seed(storage, HAND)
    return write_config(tmp_path, storage), storage


@pytest.fixture
def seeded_config(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> tuple[Path, dict[str, Any]]:
    storage = storage_for(backend, tmp_path, request)
    seed(storage, HAND)
    return write_config(tmp_path, storage), storage


def report_json(config: Path, *flags: str) -> dict[str, Any]:
    result = in_process(
        ["report", "--config", str(config), "--format", "json", *flags], env={"SOURCE_DATE_EPOCH": EPOCH}
    )
    assert result.exit_code == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["extra"], "report does not accept positional arguments"),
        (["--format", "xml"], 'invalid report format "xml": expected text or json'),
        (["--limit", "0"], "limit must be between 1 and 200"),
        (["--limit", "201"], "limit must be between 1 and 200"),
        (["--from", "yesterday"], "invalid from: expected RFC3339 or YYYY-MM-DD"),
        (["--to", "2025-13-01"], "invalid to: expected RFC3339 or YYYY-MM-DD"),
        (
            ["--from", "2025-01-08", "--to", "2025-01-07"],
            "invalid range: to must be greater than or equal to from",
        ),
    ],
)
def test_usage_errors_exit_2_with_the_spec_message(tmp_path: Path, flags: list[str], message: str) -> None:
    config = write_config(tmp_path, {"driver": "sqlite", "path": str(tmp_path / "none.db")})

    result = in_process(["report", "--config", str(config), *flags])

    assert (result.exit_code, result.stdout, result.stderr) == (2, "", message + "\n")


def test_a_flag_parse_error_exits_2() -> None:
    assert in_process(["report", "--limit", "many"]).exit_code == 2
    assert in_process(["report", "--bogus"]).exit_code == 2


def test_the_document_is_report_v1(sqlite_config: tuple[Path, dict[str, Any]]) -> None:
    config, storage = sqlite_config

    doc = report_json(config, "--limit", "2")

    assert list(doc) == [
        "schema_version",
        "generated_at",
        "storage",
        "filters",
        "summary",
        "providers",
        "models",
        "api_keys",
        "recent_traces",
    ]
    assert doc["schema_version"] == "report.v1"
    assert doc["generated_at"] == "2023-11-14T22:13:20Z"
    assert doc["storage"] == {"driver": "sqlite", "path": storage["path"]}
    assert doc["filters"] == {"limit": 2}
    assert doc["summary"] == {
        "total_requests": 9,
        "total_input_tokens": 1705,
        "total_output_tokens": 1375,
        "total_tokens": 3080,
        "total_cost_usd": 11.875,
        "active_keys": 4,
        "top_model": "gpt-4o",
    }
    assert doc["providers"] == [
        {
            "provider": "openai",
            "input_tokens": 1390,
            "output_tokens": 1175,
            "total_tokens": 2565,
            "total_cost_usd": 9.875,
        },
        {
            "provider": "anthropic",
            "input_tokens": 315,
            "output_tokens": 200,
            "total_tokens": 515,
            "total_cost_usd": 2.0,
        },
    ]
    assert [m["model"] for m in doc["models"]] == [
        "gpt-4o",
        "claude-3-5-sonnet",
        "claude-3-haiku",
        "gpt-4o-mini",
    ]
    assert [(k["api_key_hash"], k["request_count"]) for k in doc["api_keys"]] == [
        ("k1", 3),
        ("k2", 2),
        ("k9", 2),
        ("k3", 1),
    ]
    assert doc["recent_traces"] == [
        {
            "id": f"{7:032x}",
            "timestamp": "2025-01-13T00:00:00Z",
            "provider": "openai",
            "model": "gpt-4o",
            "response_status": 200,
            "total_tokens": 75,
            "estimated_cost_usd": 0.125,
            "latency_ms": 300,
            "request_path": "/openai/v1/chat/completions",
        },
        {
            "id": f"{6:032x}",
            "timestamp": "2025-01-12T23:59:59Z",
            "provider": "openai",
            "model": "gpt-4o",
            "response_status": 404,
            "total_tokens": 0,
            "estimated_cost_usd": 0.0,
            "latency_ms": 0,
            "request_path": "/openai/v1/chat/completions",
        },
    ]


def test_filters_are_echoed_and_applied(sqlite_config: tuple[Path, dict[str, Any]]) -> None:
    config, _ = sqlite_config

    doc = report_json(config, "--from", "2025-01-07", "--to", "2025-01-08", "--provider", "anthropic")

    assert doc["filters"] == {
        "provider": "anthropic",
        "from": "2025-01-07T00:00:00Z",
        "to": "2025-01-08T23:59:59.999999Z",
        "limit": 10,
    }
    assert [t["id"] for t in doc["recent_traces"]] == [f"{5:032x}", f"{9:032x}"]
    assert doc["summary"]["total_requests"] == 2


def test_an_empty_store_reports_zeros_and_empty_arrays(tmp_path: Path) -> None:
    storage = storage_for("sqlite", tmp_path)
    seed(storage, [])
    config = write_config(tmp_path, storage)

    doc = report_json(config)

    assert doc["summary"] == {
        "total_requests": 0,
        "total_input_tokens": 0,
        "total_output_tokens": 0,
        "total_tokens": 0,
        "total_cost_usd": 0.0,
        "active_keys": 0,
    }
    assert (doc["providers"], doc["models"], doc["api_keys"], doc["recent_traces"]) == ([], [], [], [])


async def _api_answers(storage: dict[str, Any], query: str, limit: int) -> dict[str, Any]:
    settings = settings_of(storage)
    store = await open_trace_store(settings, migrate=False)
    app = create_api(settings, store, None, datetime.now(UTC))
    out: dict[str, Any] = {}
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as client:
            for name in ("summary", "models", "keys"):
                out[name] = (await client.get(f"/api/analytics/{name}?{query}")).json()
            out["usage"] = (await client.get(f"/api/analytics/usage?group_by=provider&{query}")).json()
            out["cost"] = (await client.get(f"/api/analytics/cost?group_by=provider&{query}")).json()
            out["traces"] = (await client.get(f"/api/traces?limit={limit}&{query}")).json()
    finally:
        await store.close()
    return out


@pytest.mark.parametrize(
    ("flags", "query"),
    [
        ([], ""),
        (
            ["--from", "2025-02-05", "--to", "2025-02-12", "--model", "gpt-4o"],
            "from=2025-02-05&to=2025-02-12&model=gpt-4o",
        ),
    ],
    ids=["all", "filtered"],
)
def test_report_and_api_give_the_same_answers(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, flags: list[str], query: str
) -> None:
    storage = storage_for(backend, tmp_path, request)
    seed(storage, generated(200))
    config = write_config(tmp_path, storage)

    doc = report_json(config, "--limit", "25", *flags)
    api = asyncio.run(_api_answers(storage, query, 25))

    assert doc["summary"] == api["summary"]
    assert doc["models"] == api["models"]["items"]
    assert doc["api_keys"] == api["keys"]["items"]
    fields = list(doc["recent_traces"][0])
    assert doc["recent_traces"] == [{k: item[k] for k in fields} for item in api["traces"]["items"]]
    for provider in doc["providers"]:
        points = [p for p in api["usage"]["items"] if p["group"] == provider["provider"]]
        costs = [p for p in api["cost"]["items"] if p["group"] == provider["provider"]]
        assert provider["total_tokens"] == sum(p["total_tokens"] for p in points)
        assert provider["total_cost_usd"] == sum(p["total_cost_usd"] for p in costs)


def test_text_mode_has_the_spec_sections_and_a_daily_chart(
    sqlite_config: tuple[Path, dict[str, Any]],
) -> None:
    config, _ = sqlite_config

    result = in_process(["report", "--config", str(config)])

    text = result.stdout
    assert result.exit_code == 0, result.stderr
    assert text.startswith("OngoingAI Report\n")
    positions = [
        text.index(f"\n{title}\n")
        for title in ("Summary", "Providers", "Models", "API Keys", "Recent Traces")
    ]
    assert positions == sorted(positions)
    assert "11.875000" in text  # costs with 6 decimals
    assert "Requests and cost per day (UTC)" in text
    monday = next(line for line in text.splitlines() if line.strip().startswith("2025-01-06"))
    assert "█" * 30 in monday  # the busiest day has the full bar


def test_a_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    db = tmp_path / "data" / "missing.db"
    config = write_config(tmp_path, {"driver": "sqlite", "path": str(db)})

    result = in_process(["report", "--config", str(config)])

    assert result.exit_code == 1
    assert result.stderr == f'failed to initialize trace store: sqlite database "{db}" does not exist\n'
    assert not db.exists()


def test_config_errors_exit_1(tmp_path: Path) -> None:
    config = tmp_path / "ongoingai.yaml"
    config.write_text("server:\n  port: 0\n", encoding="utf-8")

    result = in_process(["report", "--config", str(config)])

    assert (result.exit_code, result.stderr) == (
        1,
        "config is invalid: server.port must be between 1 and 65535 (got 0)\n",
    )


def test_subprocess_json_is_byte_identical_with_source_date_epoch(
    backend: str, seeded_config: tuple[Path, dict[str, Any]]
) -> None:
    config, _ = seeded_config
    args = ["report", "--config", str(config), "--format", "json"]

    first = as_process(args, env={"SOURCE_DATE_EPOCH": EPOCH})
    second = as_process(args, env={"SOURCE_DATE_EPOCH": EPOCH})

    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert first.stdout.endswith(b"}\n") and b'\n  "schema_version": "report.v1",\n' in first.stdout
    assert json.loads(first.stdout)["summary"]["total_requests"] == 9


def test_subprocess_text_report_against_a_stopped_gateways_database(
    backend: str, seeded_config: tuple[Path, dict[str, Any]]
) -> None:
    config, _ = seeded_config

    done = as_process(["report", "--config", str(config), "--limit", "3"])

    assert done.returncode == 0, done.stderr
    assert b"OngoingAI Report" in done.stdout and b"Top model" in done.stdout


def test_help_lists_the_spec_flags() -> None:
    text = help_options("report")

    for flag in ["--config", "--format", "--from", "--to", "--provider", "--model", "--limit"]:
        assert flag in text, flag


GOLDEN = Path(__file__).parent / "golden" / "report.v1.json"


def without_storage(output: str) -> str:
    """The document with its storage block (driver, per-test path) replaced by a marker."""
    return re.sub(r'"storage": \{.*?\n  \},', '"storage": "<storage>",', output, count=1, flags=re.S)


def test_the_json_contract_matches_the_golden_file_on_both_backends(
    backend: str, seeded_config: tuple[Path, dict[str, Any]]
) -> None:
    config, _ = seeded_config

    result = in_process(
        ["report", "--config", str(config), "--format", "json", "--limit", "3"],
        env={"SOURCE_DATE_EPOCH": EPOCH},
    )

    assert result.exit_code == 0, result.stderr
    assert without_storage(result.stdout) == GOLDEN.read_text(encoding="utf-8")
