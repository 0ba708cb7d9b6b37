"""`ongoingai doctor`: config, storage, migrations, route wiring, auth posture and limits (issue 8), each
pass/warn/fail/skip.

config-and-cli.md §7 with DEVIATIONS.md: JSON carries `schema_version: "doctor.v1"`, a `migrations` check
follows `storage`, and every check has a `hint`. Overall = fail > warn > pass; exit 1 on fail, else 0.
Doctor never migrates and never creates a database file (a missing SQLite file is a warning).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import Any

import typer
from sqlalchemy.exc import SQLAlchemyError

from ongoingai.cli.checks import NO_ACTION, Check, auth_posture_check, route_wiring_check
from ongoingai.cli.documents import dump_document, generated_at
from ongoingai.cli.limits_check import limits_check
from ongoingai.cli.options import OutputFormat, parse_format
from ongoingai.cli.output import usage_error
from ongoingai.cli.report_text import when
from ongoingai.cli.store_access import missing_sqlite_file
from ongoingai.config import ConfigInvalidError, ConfigLoadError, Settings, load_settings, validate_settings
from ongoingai.query import TraceFilter, list_traces
from ongoingai.store import MigrationState, SqlTraceStore, StoreUnavailable, open_trace_store

DOCTOR_SCHEMA_VERSION = "doctor.v1"
QUERY_TIMEOUT_S = 5.0
STORE_ERRORS = (SQLAlchemyError, OSError, TimeoutError, StoreUnavailable)


def overall(checks: Sequence[Check]) -> str:
    statuses = {c.status for c in checks}
    return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"


def _skipped(reason: str, hint: str) -> list[Check]:
    names = ("storage", "migrations", "route_wiring", "auth_posture", "limits")
    return [Check(name, "skip", f"skipped: {reason}", hint) for name in names]


def config_checks(config_path: str) -> tuple[Settings | None, list[Check]]:
    """The config check, and the skips that follow it when it fails."""
    hint = f"fix the error above; `ongoingai config validate --config {config_path}` re-checks the file"
    then = "fix the config check first"
    try:
        settings = load_settings(config_path)
    except ConfigLoadError as exc:
        failed = Check("config", "fail", "failed to load config", hint, (str(exc),))
        return None, [failed, *_skipped("config failed to load", then)]
    try:
        validate_settings(settings)
    except ConfigInvalidError as exc:
        failed = Check("config", "fail", "config is invalid", hint, (str(exc),))
        return None, [failed, *_skipped("config validation failed", then)]
    passed = Check(
        "config", "pass", "loaded and validated configuration", NO_ACTION, (f"config path: {config_path}",)
    )
    return settings, [passed]


async def _storage_and_migrations(settings: Settings) -> list[Check]:
    driver = settings.storage.driver
    path = os.path.abspath(settings.storage.path) if driver == "sqlite" else ""
    where = (f"path: {path}",) if path else ()
    if missing_sqlite_file(settings) is not None:
        hint = "`ongoingai serve` creates and migrates the database on its first start"
        return [
            Check("storage", "warn", "sqlite database does not exist yet", hint, where),
            Check("migrations", "skip", "skipped: no database yet", hint),
        ]
    try:
        store = await open_trace_store(settings, migrate=False)
    except StoreUnavailable as exc:
        hint = "check storage.path / storage.dsn and that the database answers"
        unreachable = Check("storage", "fail", "failed to initialize trace storage", hint, (str(exc),))
        return [unreachable, Check("migrations", "skip", "skipped: storage is unreachable", hint)]
    return await _opened(store, driver, where)


async def _opened(store: SqlTraceStore, driver: str, where: tuple[str, ...]) -> list[Check]:
    hint = "check that the database answers and this user may read the traces table"
    try:
        state = await store.migration_status()
        if state is MigrationState.CURRENT:
            async with asyncio.timeout(QUERY_TIMEOUT_S), store.connect() as conn:
                await list_traces(conn, TraceFilter(limit=1))
    except STORE_ERRORS as exc:
        await _close(store)
        failed = Check(
            "storage",
            "fail",
            "trace storage connectivity check failed",
            hint,
            (f"{type(exc).__name__}: {exc}",),
        )
        return [failed, Check("migrations", "skip", "skipped: storage check failed", hint)]
    storage = Check("storage", "pass", f"connected to {driver} trace storage", NO_ACTION, where)
    if state is not MigrationState.CURRENT:
        storage = Check(
            storage.name,
            "pass",
            storage.summary,
            NO_ACTION,
            (*where, "trace query skipped: schema not current"),
        )
    if (close_error := await _close(store)) is not None:
        details = (*storage.details, f"close trace store: {close_error}")
        storage = Check(
            "storage", "warn", "trace storage connectivity succeeded with close warning", hint, details
        )
    return [storage, migrations_check(state)]


async def _close(store: SqlTraceStore) -> str | None:
    try:
        await store.close()
    except STORE_ERRORS as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def migrations_check(state: MigrationState) -> Check:
    if state is MigrationState.CURRENT:
        return Check("migrations", "pass", "schema is current", NO_ACTION)
    if state is MigrationState.BEHIND:
        detail = "read-only commands (report, debug) refuse to read it until it is migrated"
        return Check(
            "migrations",
            "warn",
            "schema behind",
            "start `ongoingai serve` once: it migrates at start",
            (detail,),
        )
    return Check(
        "migrations",
        "fail",
        "schema unknown: the database was migrated by a newer build",
        "run the newer ongoingai build against this database, or point this one at a matching database",
    )


def run_checks(config_path: str) -> list[Check]:
    settings, checks = config_checks(config_path)
    if settings is None:
        return checks
    checks += asyncio.run(_storage_and_migrations(settings))
    limits = asyncio.run(limits_check(settings))
    return [*checks, route_wiring_check(settings), auth_posture_check(settings), limits]


def doctor_document(config_path: str, checks: Sequence[Check]) -> dict[str, Any]:
    return {
        "schema_version": DOCTOR_SCHEMA_VERSION,
        "generated_at": generated_at(),
        "config_path": config_path,
        "overall_status": overall(checks),
        "checks": [c.as_dict() for c in checks],
    }


def render_doctor_text(document: dict[str, Any]) -> str:
    lines = ["OngoingAI Doctor"]
    lines.append(f"Generated at    {when(document['generated_at'])}")
    lines.append(f"Config path     {document['config_path']}")
    lines.append(f"Overall status  {document['overall_status'].upper()}")
    lines.append("")
    lines.append("Checks")
    for check in document["checks"]:
        lines.append(f"- [{check['status'].upper()}] {check['name']}: {check['summary']}")
        lines.extend(f"  {detail}" for detail in check.get("details", []))
        lines.append(f"  hint: {check['hint']}")
    return "\n".join(lines)


def run_doctor(args: list[str], config: str, output: str) -> None:
    """Run every check, print the document, exit 1 when the overall status is fail."""
    if args:
        usage_error("doctor does not accept positional arguments")
    fmt = parse_format("doctor", output)
    document = doctor_document(config, run_checks(config))
    if fmt is OutputFormat.JSON:
        typer.echo(dump_document(document).decode(), nl=False)
    else:
        typer.echo(render_doctor_text(document))
    if document["overall_status"] == "fail":
        raise typer.Exit(1)
