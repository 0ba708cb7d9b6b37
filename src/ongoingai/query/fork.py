"""Fork: the lineage headers a client sends to branch from a checkpoint (traces-and-lineage.md §7).

Forking persists nothing: the new branch exists only once the client sends a proxied request carrying
the returned headers. Random ids come from an injected source so tests are deterministic.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ongoingai.query.lineage import lineage_view
from ongoingai.query.replay import LineageError, TraceNotFound
from ongoingai.query.traces import TenantScope, get_trace
from ongoingai.traces import TraceRecord

HexSource = Callable[[], str]


def random_hex16() -> str:
    return secrets.token_hex(8)


class ForeignCheckpoint(LineageError):
    def __init__(self) -> None:
        super().__init__("checkpoint must belong to the same trace lineage group")


@dataclass(frozen=True, slots=True)
class ForkRequest:
    """The optional body: every field may be empty."""

    checkpoint_id: str = ""
    thread_id: str = ""
    run_id: str = ""


@dataclass(frozen=True, slots=True)
class Fork:
    fork_id: str
    source_trace_id: str
    source_checkpoint_id: str
    group_id: str
    thread_id: str
    run_id: str
    checkpoint_seq: int

    def as_dict(self) -> dict[str, Any]:
        """The 200 body: all five lineage fields always present, and the headers to send."""
        return {
            "fork_id": self.fork_id,
            "source_trace_id": self.source_trace_id,
            "source_checkpoint_id": self.source_checkpoint_id,
            "lineage": {
                "group_id": self.group_id,
                "thread_id": self.thread_id,
                "run_id": self.run_id,
                "parent_checkpoint_id": self.source_checkpoint_id,
                "checkpoint_seq": self.checkpoint_seq,
            },
            "headers": {
                "X-OngoingAI-Trace-Group-ID": self.group_id,
                "X-OngoingAI-Thread-ID": self.thread_id,
                "X-OngoingAI-Run-ID": self.run_id,
                "X-OngoingAI-Parent-Checkpoint-ID": self.source_checkpoint_id,
                "X-OngoingAI-Checkpoint-Seq": str(self.checkpoint_seq),
            },
        }


def _first(*values: str) -> str:
    return next((v for v in values if v), "")


async def fork(
    conn: AsyncConnection,
    source: TraceRecord,
    request: ForkRequest,
    scope: TenantScope | None = None,
    *,
    new_hex: HexSource = random_hex16,
) -> Fork:
    """Compute the fork of `source` (already loaded and tenant-checked by the caller, who answers 404
    `trace not found` itself) at `request.checkpoint_id`, default the source itself.

    Raises:
        TraceNotFound: the named checkpoint is missing or in another tenant.
        ForeignCheckpoint: both have lineage groups and they differ.
        sqlalchemy.exc.SQLAlchemyError: reading the checkpoint failed.
    """
    checkpoint = source
    if request.checkpoint_id and request.checkpoint_id != source.id:
        loaded = await get_trace(conn, request.checkpoint_id, scope)
        if loaded is None:
            raise TraceNotFound
        checkpoint = loaded
    source_view, point = lineage_view(source), lineage_view(checkpoint)
    if source_view.group_id and point.group_id and source_view.group_id != point.group_id:
        raise ForeignCheckpoint
    point_id = point.checkpoint_id
    return Fork(
        fork_id="fork_" + new_hex(),
        source_trace_id=source.id,
        source_checkpoint_id=point_id,
        group_id=_first(point.group_id, source_view.group_id, source.trace_group_id or "", point_id),
        thread_id=_first(request.thread_id, point.thread_id, source_view.thread_id, "thread_" + point_id),
        run_id=request.run_id or "run_" + new_hex(),
        checkpoint_seq=point.checkpoint_seq + 1 if point.checkpoint_seq > 0 else 1,
    )
