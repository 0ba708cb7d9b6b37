"""Writer counters and the diagnostics snapshot (http-api.md §4 fields + DEVIATIONS.md spill fields).

Pure: the writer owns one `PipelineCounters` and asks it for a snapshot; the API renders it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Same classes and order as the store's error classification (traces-and-lineage.md §4).
ERROR_CLASSES = ("connection", "timeout", "contention", "constraint", "unknown")


def utilization_pct(depth: int, capacity: int) -> int:
    """0 if capacity ≤ 0 or depth ≤ 0; 100 if depth ≥ capacity; else floor(depth*100/capacity)."""
    if capacity <= 0 or depth <= 0:
        return 0
    if depth >= capacity:
        return 100
    return depth * 100 // capacity


def pressure_state(pct: int) -> str:
    if pct >= 100:
        return "saturated"
    if pct >= 80:
        return "high"
    if pct >= 50:
        return "elevated"
    return "ok"


@dataclass
class PipelineCounters:
    """Everything the writer counts since start; mutated only on the event loop."""

    enqueue_accepted_total: int = 0
    enqueue_dropped_total: int = 0
    write_dropped_total: int = 0
    spilled_total: int = 0
    replayed_total: int = 0
    high_watermark: int = 0
    last_enqueue_drop_at: datetime | None = None
    last_write_drop_at: datetime | None = None
    last_write_drop_operation: str | None = None
    failures_by_class: Counter[str] = field(default_factory=Counter)

    def snapshot(
        self, *, capacity: int, depth: int, journal_depth: int, journal_bytes: int, store_driver: str
    ) -> dict[str, Any]:
        hwm = max(self.high_watermark, depth)
        depth_pct = utilization_pct(depth, capacity)
        hwm_pct = utilization_pct(hwm, capacity)
        out: dict[str, Any] = {
            "queue_capacity": capacity,
            "queue_depth": depth,
            "queue_depth_high_watermark": hwm,
            "queue_utilization_pct": depth_pct,
            "queue_high_watermark_utilization_pct": hwm_pct,
            "queue_pressure_state": pressure_state(depth_pct),
            "queue_high_watermark_pressure_state": pressure_state(hwm_pct),
            "enqueue_accepted_total": self.enqueue_accepted_total,
            "enqueue_dropped_total": self.enqueue_dropped_total,
            "write_dropped_total": self.write_dropped_total,
            "total_dropped_total": self.enqueue_dropped_total + self.write_dropped_total,
        }
        if self.last_enqueue_drop_at is not None:
            out["last_enqueue_drop_at"] = self.last_enqueue_drop_at
        if self.last_write_drop_at is not None:
            out["last_write_drop_at"] = self.last_write_drop_at
            out["last_write_drop_operation"] = self.last_write_drop_operation
        by_class = {
            name: self.failures_by_class[name] for name in ERROR_CLASSES if self.failures_by_class[name]
        }
        if by_class:
            out["write_failures_by_class"] = by_class
        out["store_driver"] = store_driver
        out["spill_journal_depth"] = journal_depth
        out["spill_journal_bytes"] = journal_bytes
        out["spilled_total"] = self.spilled_total
        out["replayed_total"] = self.replayed_total
        return out
