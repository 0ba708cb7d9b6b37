"""`ongoingai debug [last]`: one trace's lineage chain, ordered, optionally diffed and bundled.

config-and-cli.md §4, §6: source by `--trace-id`, by the newest trace matching `--trace-group-id` /
`--thread-id` / `--run-id`, or the newest trace (`last`); JSON is `debug-chain.v1`; `--bundle-out DIR`
writes `debug-chain.json` and a `debug-bundle.v1` manifest with the sha256 of each file, byte-identical
across runs when `SOURCE_DATE_EPOCH` is set (docs/cli-json.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from sqlalchemy.exc import SQLAlchemyError

from ongoingai.cli.debug_text import render_debug_text
from ongoingai.cli.documents import dump_document, generated_at
from ongoingai.cli.loading import load_config
from ongoingai.cli.options import OutputFormat, parse_format
from ongoingai.cli.output import fail, usage_error
from ongoingai.cli.store_access import ReadOnlyStoreError, read_only_store
from ongoingai.config import Settings
from ongoingai.query.debug import (
    MAX_DEBUG_LIMIT,
    DebugChain,
    DebugOptions,
    DebugSelection,
    NoTraces,
    build_debug_chain,
)
from ongoingai.query.replay import TraceNotFound

BUNDLE_SCHEMA_VERSION = "debug-bundle.v1"
CHAIN_FILE = "debug-chain.json"
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True, slots=True)
class DebugArgs:
    """The command line as parsed by click, before the spec's own checks."""

    args: list[str]
    config: str
    output: str
    limit: int
    diff: bool
    bundle_out: str
    include_headers: bool
    include_bodies: bool
    trace_id: str = ""
    trace_group_id: str = ""
    thread_id: str = ""
    run_id: str = ""


def parse_selection(args: list[str], selection: DebugSelection) -> DebugSelection:
    """Positional `last` and the selectors, checked in the original's order (usage errors exit 2)."""
    if len(args) > 1:
        usage_error("debug accepts at most one positional argument: last")
    if args and args[0].strip() != "last":
        usage_error('debug positional argument must be "last"')
    if args and (selection.trace_id or selection.has_chain_filter):
        usage_error(
            'debug "last" cannot be combined with --trace-id, --trace-group-id, --thread-id, or --run-id'
        )
    if selection.trace_id and selection.has_chain_filter:
        usage_error("trace-id cannot be combined with trace-group-id/thread-id/run-id filters")
    return selection


async def read_chain(settings: Settings, selection: DebugSelection, options: DebugOptions) -> DebugChain:
    """Open the store read-only and build the chain; exits 1 with the spec's message when that fails."""
    try:
        async with read_only_store(settings) as store, store.connect() as conn:
            return await build_debug_chain(conn, selection, options)
    except (ReadOnlyStoreError, TraceNotFound, NoTraces) as exc:
        fail(str(exc))
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        fail(f"failed to build debug chain: {type(exc).__name__}: {exc}")


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def manifest(chain: DebugChain, document: dict[str, Any], chain_bytes: bytes, at: datetime) -> dict[str, Any]:
    """The `debug-bundle.v1` manifest: generation inputs, chain counts, and each file's size and sha256."""
    options = chain.options
    return {
        "schema_version": BUNDLE_SCHEMA_VERSION,
        "generated_at": at,
        "selection_mode": chain.selection.mode,
        "selection": chain.selection.as_dict(),
        "limit": options.limit,
        "include_diff": options.include_diff,
        "include_bodies": options.include_bodies,
        "include_headers": options.include_headers,
        "chain": {
            "source_trace_id": chain.source.id,
            "checkpoint_count": len(chain.checkpoints),
            "truncated": chain.truncated,
            "diff_count": len(document.get("diffs", [])),
            "target_checkpoint_id": chain.source.id,
        },
        "files": [
            {"name": CHAIN_FILE, "bytes": len(chain_bytes), "sha256": hashlib.sha256(chain_bytes).hexdigest()}
        ],
    }


def write_bundle(directory: str, chain: DebugChain, document: dict[str, Any], at: datetime) -> Path:
    """Write the bundle into `directory` (created 0755) and return the manifest's path.

    Raises:
        OSError: the directory or a file could not be written.
    """
    folder = Path(directory)
    folder.mkdir(mode=0o755, parents=True, exist_ok=True)
    chain_bytes = dump_document(document)
    _write(folder / CHAIN_FILE, chain_bytes)
    path = folder / MANIFEST_FILE
    _write(path, dump_document(manifest(chain, document, chain_bytes, at)))
    return path


def run_debug(a: DebugArgs) -> None:
    """Validate (usage errors exit 2), load config, read the chain, print it, write the bundle."""
    selection = DebugSelection(
        a.trace_id.strip(), a.trace_group_id.strip(), a.thread_id.strip(), a.run_id.strip()
    )
    selection = parse_selection(list(a.args), selection)
    fmt = parse_format("debug", a.output)
    if not 1 <= a.limit <= MAX_DEBUG_LIMIT:
        usage_error(f"limit must be between 1 and {MAX_DEBUG_LIMIT}")
    options = DebugOptions(a.limit, a.diff, a.include_headers, a.include_bodies)
    settings = load_config(a.config)
    chain = asyncio.run(read_chain(settings, selection, options))
    at = generated_at()
    document = chain.document(at)
    if fmt is OutputFormat.JSON:
        typer.echo(dump_document(document).decode(), nl=False)
    else:
        render_debug_text(document)
    if a.bundle_out.strip():
        try:
            path = write_bundle(a.bundle_out.strip(), chain, document, at)
        except OSError as exc:
            fail(f"failed to write debug bundle: {exc}")
        typer.echo(f"wrote debug bundle: {path}", err=True)
