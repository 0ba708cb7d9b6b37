"""Replay: the ordered checkpoint history up to a target (traces-and-lineage.md §6). Reads only.

The API serves it at `GET /api/traces/{id}/replay`; nothing here writes, and records are never changed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from ongoingai.query.chain import ChainFilter, fetch_chain
from ongoingai.query.lineage import LineageView, lineage_view
from ongoingai.query.lineage_order import order_checkpoints
from ongoingai.query.traces import TenantScope, get_trace
from ongoingai.traces import TraceRecord

DEFAULT_REPLAY_LIMIT = 200
MAX_REPLAY_LIMIT = 500


class LineageError(Exception):
    """A replay or fork request that cannot be answered; the message is the API's `error`."""

    status = 400


class TraceNotFound(LineageError):
    status = 404

    def __init__(self) -> None:
        super().__init__("trace not found")


class CheckpointNotFound(LineageError):
    status = 404

    def __init__(self) -> None:
        super().__init__("checkpoint not found")


class HistoryUnavailable(Exception):
    """The checkpoint history query failed (API: `500 failed to query replay checkpoints`)."""


@dataclass(frozen=True, slots=True)
class ReplayRequest:
    checkpoint_id: str = ""
    thread_id: str = ""
    run_id: str = ""
    limit: int = DEFAULT_REPLAY_LIMIT


@dataclass(frozen=True, slots=True)
class Replay:
    source_trace_id: str
    target_checkpoint_id: str
    lineage: LineageView  # the target's, with group/thread/run filled from the source
    checkpoints: list[TraceRecord]  # lineage order, up to and including the target; no headers/bodies
    truncated: bool
    target_trace: TraceRecord  # full record


async def _history(
    conn: AsyncConnection, source: TraceRecord, f: ChainFilter, limit: int
) -> tuple[list[TraceRecord], bool]:
    if not f.group_id:
        return [source], False
    try:
        chain = await fetch_chain(conn, f, limit)
    except (SQLAlchemyError, OSError, TimeoutError) as exc:  # the API has its own 500 message for it
        raise HistoryUnavailable(str(exc)) from exc
    items = chain.items
    if all(item.id != source.id for item in items):
        items = [*items, source]
    return items, chain.truncated


async def replay(
    conn: AsyncConnection, trace_id: str, request: ReplayRequest, scope: TenantScope | None = None
) -> Replay:
    """The replay of `trace_id` (tenant-checked against `scope`).

    Raises:
        TraceNotFound: no such trace in the caller's tenant.
        CheckpointNotFound: the target is not in the reconstructed history.
        HistoryUnavailable: the history query failed.
        sqlalchemy.exc.SQLAlchemyError: reading the source or target failed.
    """
    source = await get_trace(conn, trace_id, scope)
    if source is None:
        raise TraceNotFound
    view = lineage_view(source)
    target_id = request.checkpoint_id or source.id
    thread = request.thread_id or view.thread_id
    run = request.run_id or view.run_id
    chain_filter = ChainFilter(view.group_id, thread, run, scope)
    history, truncated = await _history(conn, source, chain_filter, request.limit)
    ordered = order_checkpoints(history)
    index = next((i for i, item in enumerate(ordered) if item.id == target_id), None)
    if index is None:
        raise CheckpointNotFound
    target = source if target_id == source.id else await get_trace(conn, target_id, scope)
    if target is None:
        raise CheckpointNotFound
    target_view = lineage_view(target)
    filled = replace(
        target_view,
        group_id=target_view.group_id or view.group_id,
        thread_id=target_view.thread_id or thread,
        run_id=target_view.run_id or run,
    )
    return Replay(
        source_trace_id=source.id,
        target_checkpoint_id=target_id,
        lineage=filled,
        checkpoints=ordered[: index + 1],
        truncated=truncated and index == len(ordered) - 1,
        target_trace=target,
    )
