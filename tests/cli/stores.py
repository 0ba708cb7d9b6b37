"""Helpers for the read-side CLI tests: a config file over a seeded store, and ways to run the CLI.

`in_process` goes through Typer's CliRunner (fast, stderr separate); `as_process` runs the installed
console script against the same files, as an operator would with the gateway stopped.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from ongoingai.cli.main import create_cli
from ongoingai.config import Settings
from ongoingai.store import open_trace_store
from ongoingai.traces import TraceRecord

BINARY = Path(sys.executable).parent / "ongoingai"
EPOCH = "1700000000"  # 2023-11-14T22:13:20Z


def storage_for(backend: str, tmp_path: Path, request: pytest.FixtureRequest | None = None) -> dict[str, Any]:
    if backend == "postgres":
        assert request is not None, "postgres needs the test's request for the database fixture"
        return {"driver": "postgres", "dsn": request.getfixturevalue("postgres_dsn")}
    return {"driver": "sqlite", "path": str(tmp_path / "data" / "ongoingai.db")}


def write_config(tmp_path: Path, storage: dict[str, Any], **sections: Any) -> Path:
    path = tmp_path / "ongoingai.yaml"
    path.write_text(yaml.safe_dump({"storage": storage, **sections}), encoding="utf-8")
    return path


def settings_of(storage: dict[str, Any]) -> Settings:
    return Settings(storage=storage)


async def seed_async(storage: dict[str, Any], records: Sequence[TraceRecord]) -> None:
    store = await open_trace_store(settings_of(storage))
    try:
        result = await store.write_batch(list(records))
        assert result.written == len(records), result
    finally:
        await store.close()


def seed(storage: dict[str, Any], records: Sequence[TraceRecord]) -> None:
    """Migrate (as `serve` would have) and write `records`."""
    asyncio.run(seed_async(storage, records))


def in_process(args: list[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(create_cli(), args, env=env, prog_name="ongoingai")


def as_process(
    args: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("ONGOINGAI_", "OTEL_"))}
    environment.pop("SOURCE_DATE_EPOCH", None)
    environment.update(env or {})
    return subprocess.run(
        [str(BINARY), *args], capture_output=True, env=environment, cwd=cwd, timeout=timeout, check=False
    )


def help_options(command: str) -> str:
    """`ongoingai <command> --help` (exit 0), for checking that the spec's flags are listed."""
    result = in_process([command, "--help"])
    assert result.exit_code == 0, result.stderr
    return result.stdout
