"""`ongoingai debug [last]` (config-and-cli.md §4, §6): selection rules and messages, the ordered chain (as
the API's replay orders it), diffs that never show a value, bundles byte-identical under SOURCE_DATE_EPOCH.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from ongoingai.api import create_api
from ongoingai.store import open_trace_store
from ongoingai.traces import TraceRecord
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
from tests.fakes.trace_records import T0, make_record

SECRET_BODY = '{"note":"SECRET-VALUE-8c1f"}'
A, B, C, D, Z = (f"{n:032x}" for n in (0xA, 0xB, 0xC, 0xD, 0x2))


def node(n: int, seconds: int, **meta: Any) -> TraceRecord:
    at = T0 + timedelta(seconds=seconds)
    metadata = {
        "lineage_checkpoint_id": f"{n:032x}",
        "lineage_group_id": "g1",
        "lineage_thread_id": "t1",
        **meta,
    }
    return make_record(n, trace_group_id="g1", timestamp=at, created_at=at, metadata=metadata)


# Out of time order: C (seq 3) is written first and is the oldest; A is the newest.
CHAIN = [
    replace(
        node(0xC, 10, lineage_parent_checkpoint_id=B, lineage_checkpoint_seq=3), request_body=SECRET_BODY
    ),
    node(0xB, 20, lineage_parent_checkpoint_id=A),
    replace(node(0xA, 30, lineage_checkpoint_seq=1), model="gpt-4o", input_tokens=100, latency_ms=900),
    node(0xD, 5, lineage_thread_id="t2", lineage_run_id="r9"),
    make_record(0x2, metadata={}, timestamp=T0 - timedelta(days=1), created_at=T0 - timedelta(days=1)),
]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    storage = storage_for("sqlite", tmp_path)
    seed(storage, CHAIN)
    return write_config(tmp_path, storage)


def debug_json(config: Path, *flags: str) -> dict[str, Any]:
    result = in_process(
        ["debug", "--config", str(config), "--format", "json", *flags], env={"SOURCE_DATE_EPOCH": EPOCH}
    )
    assert result.exit_code == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def ids(doc: dict[str, Any]) -> list[str]:
    return [c["id"] for c in doc["chain"]["checkpoints"]]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["last", "again"], "debug accepts at most one positional argument: last"),
        (["first"], 'debug positional argument must be "last"'),
        (
            ["last", "--trace-id", "x"],
            'debug "last" cannot be combined with --trace-id, --trace-group-id, --thread-id, or --run-id',
        ),
        (
            ["last", "--run-id", "x"],
            'debug "last" cannot be combined with --trace-id, --trace-group-id, --thread-id, or --run-id',
        ),
        (
            ["--trace-id", "x", "--thread-id", "t"],
            "trace-id cannot be combined with trace-group-id/thread-id/run-id filters",
        ),
        (["--format", "yaml"], 'invalid debug format "yaml": expected text or json'),
        (["--limit", "0"], "limit must be between 1 and 500"),
        (["--limit", "501"], "limit must be between 1 and 500"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, flags: list[str], message: str) -> None:
    result = in_process(["debug", "--config", str(tmp_path / "absent.yaml"), *flags])

    assert (result.exit_code, result.stdout, result.stderr) == (2, "", message + "\n")


def test_last_is_the_newest_trace_and_its_lineage_chain(config: Path) -> None:
    doc = debug_json(config, "last")

    assert doc["source_trace_id"] == A
    assert ids(doc) == [A, B, C]  # parent links and seqs, not write or time order
    assert doc["chain"]["lineage_identifier"] == "trace_group_id"
    assert (doc["chain"]["group_id"], doc["chain"]["thread_id"]) == ("g1", "t1")
    assert "run_id" not in doc["chain"]
    assert doc["chain"]["target_checkpoint_id"] == A
    assert [c["step"] for c in doc["chain"]["checkpoints"]] == [1, 2, 3]
    assert doc["source"]["step"] == 0
    assert doc["selection"] == {}
    assert doc["options"] == {
        "limit": 200,
        "include_diff": False,
        "include_headers": False,
        "include_bodies": False,
    }
    assert "diffs" not in doc


def test_the_document_fields_and_order(config: Path) -> None:
    doc = debug_json(config, "--trace-id", B)

    assert list(doc) == [
        "schema_version",
        "generated_at",
        "selection",
        "options",
        "source_trace_id",
        "source_timestamp",
        "source",
        "chain",
    ]
    assert (doc["schema_version"], doc["generated_at"]) == ("debug-chain.v1", "2023-11-14T22:13:20Z")
    assert doc["selection"] == {"trace_id": B}
    assert doc["source_timestamp"] == "2025-01-02T03:04:25.123456Z"
    assert list(doc["chain"]) == [
        "group_id",
        "thread_id",
        "target_checkpoint_id",
        "checkpoint_count",
        "truncated",
        "checkpoints",
        "lineage_identifier",
    ]
    checkpoint = doc["chain"]["checkpoints"][1]
    assert list(checkpoint) == [
        "step",
        "id",
        "timestamp",
        "created_at",
        "provider",
        "model",
        "request_method",
        "request_path",
        "response_status",
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "estimated_cost_usd",
        "latency_ms",
        "time_to_first_token_ms",
        "time_to_first_token_us",
        "lineage",
        "metadata",
    ]
    assert checkpoint["lineage"] == {
        "group_id": "g1",
        "thread_id": "t1",
        "checkpoint_id": B,
        "parent_checkpoint_id": A,
        "immutable": True,
    }


def test_selectors_pick_the_newest_match_and_filter_the_chain(config: Path) -> None:
    by_thread = debug_json(config, "--thread-id", "t2")
    composite = debug_json(config, "--trace-group-id", "g1", "--run-id", "r9")
    single = debug_json(config, "--trace-id", Z)

    assert (by_thread["source_trace_id"], ids(by_thread)) == (D, [D])
    assert by_thread["chain"]["lineage_identifier"] == "lineage_thread_id"
    assert composite["chain"]["lineage_identifier"] == "composite_filter"
    assert (single["chain"]["lineage_identifier"], ids(single)) == ("(single trace)", [Z])


def test_the_limit_truncates_and_keeps_the_source(config: Path) -> None:
    doc = debug_json(config, "--trace-id", C, "--limit", "1")

    # newest matching trace is A; C (the source) is always included
    assert ids(doc) == [A, C]
    assert doc["chain"]["truncated"] is True
    assert doc["chain"]["checkpoint_count"] == 2


def test_diffs_show_digests_and_deltas_never_values(config: Path) -> None:
    result = in_process(["debug", "--config", str(config), "--format", "json", "--diff", "--trace-id", A])
    text = in_process(["debug", "--config", str(config), "--diff", "--trace-id", A])

    doc = json.loads(result.stdout)
    first, second = doc["diffs"]
    assert (first["from_checkpoint_id"], first["to_checkpoint_id"]) == (A, B)
    assert first["model_changed"] is True
    assert (first["input_tokens_delta"], first["latency_delta_ms"]) == (-88, -550)
    assert second["request_body_changed"] is True
    assert second["request_body_bytes_to"] == len(SECRET_BODY)
    assert second["metadata_keys_changed"] == ["lineage_checkpoint_id", "lineage_parent_checkpoint_id"]
    assert second["metadata_keys_added"] == ["lineage_checkpoint_seq"]
    assert "metadata_keys_removed" not in second
    for output in (result.stdout, text.stdout):
        assert "SECRET-VALUE" not in output
    assert "Diffs" in text.stdout


def test_bodies_and_headers_only_when_asked(config: Path) -> None:
    plain = debug_json(config, "--trace-id", C)
    full = debug_json(config, "--trace-id", C, "--include-bodies", "--include-headers")

    source = full["source"]
    assert "request_body" not in plain["source"] and "request_headers" not in plain["source"]
    assert source["request_body"] == SECRET_BODY
    assert json.loads(source["request_headers"]) == {
        "Authorization": ["[REDACTED]"],
        "Content-Type": ["application/json"],
    }
    assert isinstance(source["response_headers"], str)


@pytest.mark.parametrize(
    ("flags", "message"),
    [(["--trace-id", "nope"], "trace not found"), (["--run-id", "nope"], "no traces found in storage")],
)
def test_nothing_found_exits_1(config: Path, flags: list[str], message: str) -> None:
    result = in_process(["debug", "--config", str(config), *flags])

    assert (result.exit_code, result.stderr) == (1, message + "\n")


def test_an_empty_store_says_so(tmp_path: Path) -> None:
    storage = storage_for("sqlite", tmp_path)
    seed(storage, [])

    result = in_process(["debug", "last", "--config", str(write_config(tmp_path, storage))])

    assert (result.exit_code, result.stderr) == (1, "no traces found in storage\n")


def test_text_mode_lists_each_step(config: Path) -> None:
    result = in_process(["debug", "--config", str(config)])

    assert result.stdout.startswith("OngoingAI Debug Chain\n")
    assert [line.split()[1] for line in result.stdout.splitlines() if line.startswith("Step ")] == [
        "1:",
        "2:",
        "3:",
    ]


async def _replay(storage: dict[str, Any], trace_id: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    settings = settings_of(storage)
    store = await open_trace_store(settings, migrate=False)
    app = create_api(settings, store, None, datetime.now(UTC))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as client:
            replay = (await client.get(f"/api/traces/{trace_id}/replay")).json()
            details = {
                c["id"]: (await client.get(f"/api/traces/{c['id']}")).json() for c in replay["checkpoints"]
            }
    finally:
        await store.close()
    return replay, details


def test_the_chain_matches_the_api_replay_and_trace_details(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    storage = storage_for(backend, tmp_path, request)
    seed(storage, CHAIN)
    config = write_config(tmp_path, storage)

    doc = debug_json(config, "--trace-id", C)
    replay, details = asyncio.run(_replay(storage, C))

    assert ids(doc) == [c["id"] for c in replay["checkpoints"]] == [A, B, C]
    for checkpoint, listed in zip(doc["chain"]["checkpoints"], replay["checkpoints"], strict=True):
        detail = details[checkpoint["id"]]
        assert checkpoint["lineage"] == listed["lineage"] == detail["lineage"]
        shared = set(checkpoint) & set(detail) - {"step"}
        assert {k: checkpoint[k] for k in shared} == {k: detail[k] for k in shared}
        assert shared >= {
            "id",
            "timestamp",
            "created_at",
            "model",
            "total_tokens",
            "estimated_cost_usd",
            "metadata",
        }


def test_bundles_are_byte_identical_with_source_date_epoch(tmp_path: Path, config: Path) -> None:
    runs = []
    for name in ("one", "two"):
        out = tmp_path / name / "bundle"
        done = as_process(
            ["debug", "--config", str(config), "--diff", "--format", "json", "--bundle-out", str(out)],
            env={"SOURCE_DATE_EPOCH": EPOCH},
        )
        assert done.returncode == 0, done.stderr
        assert done.stderr.decode() == f"wrote debug bundle: {out / 'manifest.json'}\n"
        runs.append(
            (done.stdout, (out / "debug-chain.json").read_bytes(), (out / "manifest.json").read_bytes())
        )

    assert runs[0] == runs[1]
    stdout, chain, manifest_bytes = runs[0]
    assert chain == stdout  # the bundle holds exactly what was printed
    manifest = json.loads(manifest_bytes)
    assert manifest == {
        "schema_version": "debug-bundle.v1",
        "generated_at": "2023-11-14T22:13:20Z",
        "selection_mode": "latest",
        "selection": {},
        "limit": 200,
        "include_diff": True,
        "include_bodies": False,
        "include_headers": False,
        "chain": {
            "source_trace_id": A,
            "checkpoint_count": 3,
            "truncated": False,
            "diff_count": 2,
            "target_checkpoint_id": A,
        },
        "files": [
            {"name": "debug-chain.json", "bytes": len(chain), "sha256": hashlib.sha256(chain).hexdigest()}
        ],
    }
    assert oct((tmp_path / "one" / "bundle").stat().st_mode & 0o777) in ("0o755", "0o775")


def test_a_bundle_that_cannot_be_written_exits_1(tmp_path: Path, config: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")

    result = in_process(["debug", "--config", str(config), "--bundle-out", str(blocker / "sub")])

    assert result.exit_code == 1
    assert result.stderr.startswith("failed to write debug bundle: ")


def test_subprocess_debug_last_on_postgres_and_sqlite(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    storage = storage_for(backend, tmp_path, request)
    seed(storage, CHAIN)
    config = write_config(tmp_path, storage)

    done = as_process(["debug", "last", "--config", str(config)])

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"OngoingAI Debug Chain\n")
    assert A.encode() in done.stdout


def test_help_lists_the_spec_flags() -> None:
    text = help_options("debug")

    for flag in [
        "--config",
        "--trace-id",
        "--trace-group-id",
        "--thread-id",
        "--run-id",
        "--format",
        "--limit",
        "--diff",
        "--bundle-out",
        "--include-headers",
        "--include-bodies",
    ]:
        assert flag in text, flag


GOLDEN = Path(__file__).parent / "golden" / "debug-chain.v1.json"


def test_the_json_contract_matches_the_golden_file_on_both_backends(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    storage = storage_for(backend, tmp_path, request)
    seed(storage, CHAIN)
    config = write_config(tmp_path, storage)

    result = in_process(
        [
            "debug",
            "--config",
            str(config),
            "--format",
            "json",
            "--diff",
            "--include-headers",
            "--include-bodies",
        ],
        env={"SOURCE_DATE_EPOCH": EPOCH},
    )

    assert result.exit_code == 0, result.stderr
    assert result.stdout == GOLDEN.read_text(encoding="utf-8")
