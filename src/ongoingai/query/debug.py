"""The `debug` chain (config-and-cli.md §6): pick a source trace, read its lineage chain, order it, diff it.

`build_debug_chain` does the reading; `DebugChain.document()` is the `debug-chain.v1` JSON form (times as
datetimes, rendered by the caller). Diffs compare SHA-256 digests, byte counts and numeric deltas only:
no header, body or metadata value is ever copied into a diff, so `--diff` cannot leak a redacted value.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from ongoingai.query.chain import ChainFilter, fetch_chain, newest_trace
from ongoingai.query.lineage import lineage_view
from ongoingai.query.lineage_order import order_checkpoints
from ongoingai.query.replay import TraceNotFound
from ongoingai.query.traces import get_trace
from ongoingai.traces import TraceRecord

DEBUG_SCHEMA_VERSION = "debug-chain.v1"
DEFAULT_DEBUG_LIMIT = 200
MAX_DEBUG_LIMIT = 500


class NoTraces(Exception):
    def __init__(self) -> None:
        super().__init__("no traces found in storage")


@dataclass(frozen=True, slots=True)
class DebugSelection:
    trace_id: str = ""
    trace_group_id: str = ""
    thread_id: str = ""
    run_id: str = ""

    @property
    def has_chain_filter(self) -> bool:
        return bool(self.trace_group_id or self.thread_id or self.run_id)

    @property
    def mode(self) -> str:
        """`trace_id`, `filter` or `latest` (the bundle manifest's `selection_mode`)."""
        if self.trace_id:
            return "trace_id"
        return "filter" if self.has_chain_filter else "latest"

    def as_dict(self) -> dict[str, str]:
        names = ("trace_id", "trace_group_id", "thread_id", "run_id")
        return {name: getattr(self, name) for name in names if getattr(self, name)}


@dataclass(frozen=True, slots=True)
class DebugOptions:
    limit: int = DEFAULT_DEBUG_LIMIT
    include_diff: bool = False
    include_headers: bool = False
    include_bodies: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "limit": self.limit,
            "include_diff": self.include_diff,
            "include_headers": self.include_headers,
            "include_bodies": self.include_bodies,
        }


def _sorted(value: Any) -> Any:
    # Postgres JSONB and SQLite text keep object keys in different orders; sort them so both print alike.
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def headers_text(headers: dict[str, list[str]]) -> str:
    """Stored headers as one compact JSON string, keys sorted: what `--include-headers` prints, diffs hash."""
    return orjson.dumps(headers, option=orjson.OPT_SORT_KEYS).decode()


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _value_digest(value: Any) -> str:
    return _digest(orjson.dumps(value, option=orjson.OPT_SORT_KEYS))


def checkpoint_dict(record: TraceRecord, step: int, options: DebugOptions) -> dict[str, Any]:
    """One checkpoint of the chain; headers/bodies only when the options ask for them."""
    out: dict[str, Any] = {
        "step": step,
        "id": record.id,
        "timestamp": record.timestamp,
        "created_at": record.created_at,
        "provider": record.provider,
        "model": record.model,
        "request_method": record.request_method,
        "request_path": record.request_path,
        "response_status": record.response_status,
        "input_tokens": record.input_tokens,
        "output_tokens": record.output_tokens,
        "total_tokens": record.total_tokens,
        "estimated_cost_usd": record.estimated_cost_usd,
        "latency_ms": record.latency_ms,
        "time_to_first_token_ms": record.time_to_first_token_ms,
        "time_to_first_token_us": record.time_to_first_token_us,
        "lineage": lineage_view(record).as_dict(),
    }
    if record.metadata:
        out["metadata"] = _sorted(record.metadata)
    if options.include_headers:
        out["request_headers"] = headers_text(record.request_headers)
        out["response_headers"] = headers_text(record.response_headers)
    if options.include_bodies:
        bodies = {"request_body": record.request_body, "response_body": record.response_body}
        out.update({name: body for name, body in bodies.items() if body})
    return out


def _metadata_keys(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[str]]:
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    both = sorted(set(before) & set(after))
    changed = [k for k in both if _value_digest(before[k]) != _value_digest(after[k])]
    lists = {"metadata_keys_added": added, "metadata_keys_removed": removed, "metadata_keys_changed": changed}
    return {name: keys for name, keys in lists.items() if keys}


def diff_pair(before: TraceRecord, after: TraceRecord) -> dict[str, Any]:
    """What changed from one checkpoint to the next: flags, deltas (to − from), byte counts, key names."""
    out: dict[str, Any] = {"from_checkpoint_id": before.id, "to_checkpoint_id": after.id}
    for name in ("provider", "model", "request_method", "request_path", "response_status"):
        out[f"{name}_changed"] = getattr(before, name) != getattr(after, name)
    blobs = {
        "request_headers": (headers_text(before.request_headers), headers_text(after.request_headers)),
        "response_headers": (headers_text(before.response_headers), headers_text(after.response_headers)),
        "request_body": (before.request_body, after.request_body),
        "response_body": (before.response_body, after.response_body),
    }
    encoded = {name: (a.encode(), b.encode()) for name, (a, b) in blobs.items()}
    for name, (a, b) in encoded.items():
        out[f"{name}_changed"] = _digest(a) != _digest(b)
    out["input_tokens_delta"] = after.input_tokens - before.input_tokens
    out["output_tokens_delta"] = after.output_tokens - before.output_tokens
    out["total_tokens_delta"] = after.total_tokens - before.total_tokens
    out["latency_delta_ms"] = after.latency_ms - before.latency_ms
    out["estimated_cost_delta_usd"] = after.estimated_cost_usd - before.estimated_cost_usd
    for name, (a, b) in encoded.items():
        out[f"{name}_bytes_from"] = len(a)
        out[f"{name}_bytes_to"] = len(b)
    out.update(_metadata_keys(before.metadata, after.metadata))
    return out


@dataclass(frozen=True, slots=True)
class DebugChain:
    selection: DebugSelection
    options: DebugOptions
    source: TraceRecord
    group_id: str
    thread_id: str
    run_id: str
    lineage_identifier: str
    truncated: bool
    checkpoints: list[TraceRecord] = field(default_factory=list)

    def diffs(self) -> list[dict[str, Any]]:
        if not self.options.include_diff or len(self.checkpoints) < 2:
            return []
        return [diff_pair(a, b) for a, b in zip(self.checkpoints, self.checkpoints[1:], strict=False)]

    def document(self, generated_at: datetime) -> dict[str, Any]:
        """The `debug-chain.v1` document (docs/cli-json.md)."""
        chain: dict[str, Any] = {}
        for name in ("group_id", "thread_id", "run_id"):
            if value := getattr(self, name):
                chain[name] = value
        chain |= {
            "target_checkpoint_id": self.source.id,
            "checkpoint_count": len(self.checkpoints),
            "truncated": self.truncated,
            "checkpoints": [checkpoint_dict(r, i, self.options) for i, r in enumerate(self.checkpoints, 1)],
            "lineage_identifier": self.lineage_identifier,
        }
        doc: dict[str, Any] = {
            "schema_version": DEBUG_SCHEMA_VERSION,
            "generated_at": generated_at,
            "selection": self.selection.as_dict(),
            "options": self.options.as_dict(),
            "source_trace_id": self.source.id,
            "source_timestamp": self.source.created_at or self.source.timestamp,
            "source": checkpoint_dict(self.source, 0, self.options),
            "chain": chain,
        }
        if diffs := self.diffs():
            doc["diffs"] = diffs
        return doc


def _identifier(selection: DebugSelection, f: ChainFilter) -> str:
    if selection.has_chain_filter and sum(map(bool, (f.group_id, f.thread_id, f.run_id))) > 1:
        return "composite_filter"
    for value, name in ((f.group_id, "trace_group_id"), (f.thread_id, "lineage_thread_id")):
        if value:
            return name
    return "lineage_run_id" if f.run_id else "(single trace)"


async def _source(conn: AsyncConnection, selection: DebugSelection) -> TraceRecord:
    if selection.trace_id:
        record = await get_trace(conn, selection.trace_id)
        if record is None:
            raise TraceNotFound
        return record
    chain_filter = ChainFilter(selection.trace_group_id, selection.thread_id, selection.run_id)
    newest = await newest_trace(conn, chain_filter)
    if newest is None:
        raise NoTraces
    return newest


async def build_debug_chain(
    conn: AsyncConnection, selection: DebugSelection, options: DebugOptions
) -> DebugChain:
    """Source: `trace_id`, else the newest trace matching the selectors, else the newest trace.
    Chain: the explicit selectors, else the source's lineage group/thread/run; newest `limit` traces,
    source always included, in lineage order (traces-and-lineage.md §5). Unscoped: the CLI reads it all.

    Raises:
        TraceNotFound: `--trace-id` names no trace.
        NoTraces: nothing matched (or the store is empty).
        sqlalchemy.exc.SQLAlchemyError: the store failed.
    """
    source = await _source(conn, selection)
    if selection.has_chain_filter:
        f = ChainFilter(selection.trace_group_id, selection.thread_id, selection.run_id)
    else:
        view = lineage_view(source)
        f = ChainFilter(view.group_id, view.thread_id, view.run_id)
    full = options.include_diff or options.include_headers or options.include_bodies
    chain = await fetch_chain(conn, f, options.limit, full=full)
    items = chain.items
    if all(item.id != source.id for item in items):
        items = [*items, source]
    return DebugChain(
        selection=selection,
        options=options,
        source=source,
        group_id=f.group_id,
        thread_id=f.thread_id,
        run_id=f.run_id,
        lineage_identifier=_identifier(selection, f),
        truncated=chain.truncated,
        checkpoints=order_checkpoints(items),
    )
