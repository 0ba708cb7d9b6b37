"""The lineage view of one trace (traces-and-lineage.md §5 "Lineage view"), shared by API and CLI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ongoingai.traces import TraceRecord


@dataclass(frozen=True, slots=True)
class LineageView:
    group_id: str = ""
    thread_id: str = ""
    run_id: str = ""
    checkpoint_id: str = ""
    parent_checkpoint_id: str = ""
    checkpoint_seq: int = 0
    immutable: bool = True

    def as_dict(self) -> dict[str, Any]:
        """JSON form: empty strings and a zero seq are omitted; `immutable` is always present."""
        out: dict[str, Any] = {}
        for name in ("group_id", "thread_id", "run_id", "checkpoint_id", "parent_checkpoint_id"):
            value = getattr(self, name)
            if value:
                out[name] = value
        if self.checkpoint_seq:
            out["checkpoint_seq"] = self.checkpoint_seq
        out["immutable"] = self.immutable
        return out


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _seq(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return 0
    return 0


def _immutable(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return True


def lineage_view(record: TraceRecord) -> LineageView:
    """Group from metadata or `trace_group_id`; checkpoint defaults to the trace id; seq number or string."""
    meta = record.metadata
    return LineageView(
        group_id=_text(meta.get("lineage_group_id")) or (record.trace_group_id or ""),
        thread_id=_text(meta.get("lineage_thread_id")),
        run_id=_text(meta.get("lineage_run_id")),
        checkpoint_id=_text(meta.get("lineage_checkpoint_id")) or record.id,
        parent_checkpoint_id=_text(meta.get("lineage_parent_checkpoint_id")),
        checkpoint_seq=_seq(meta.get("lineage_checkpoint_seq")),
        immutable=_immutable(meta.get("lineage_immutable")),
    )
