"""Checkpoint ordering (traces-and-lineage.md §5 "Ordering algorithm"), used by replay and `debug`.

Writes arrive out of order and clients send partial lineage metadata, so the order is reconstructed:
parent links first, then client sequence numbers (inferred along links where missing), then time,
trace id and original position as tie-breakers. Pure: records in, records out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ongoingai.query.lineage import lineage_view
from ongoingai.traces import TraceRecord


@dataclass(slots=True)
class _Node:
    position: int
    record: TraceRecord
    checkpoint_id: str
    parent_id: str
    seq: int | None  # known only when the metadata seq is > 0, or inferred

    def key(self) -> tuple[bool, int, datetime, str, int]:
        order_time = self.record.created_at or self.record.timestamp
        return (self.seq is None, self.seq or 0, order_time, self.record.id, self.position)


def _nodes(records: Sequence[TraceRecord]) -> list[_Node]:
    out = []
    for i, record in enumerate(records):
        view = lineage_view(record)
        seq = view.checkpoint_seq if view.checkpoint_seq > 0 else None
        out.append(_Node(i, record, view.checkpoint_id, view.parent_checkpoint_id, seq))
    return out


def _parents(nodes: list[_Node]) -> list[int | None]:
    """Parent position per node: the first node carrying the parent's checkpoint id; self-links ignored."""
    first: dict[str, int] = {}
    for node in nodes:
        first.setdefault(node.checkpoint_id, node.position)
    out: list[int | None] = []
    for node in nodes:
        parent = first.get(node.parent_id) if node.parent_id else None
        out.append(None if parent == node.position else parent)
    return out


def _infer_seqs(nodes: list[_Node], parents: list[int | None], children: list[list[int]]) -> None:
    for _ in range(2 * len(nodes)):
        progress = False
        for node in nodes:
            parent = parents[node.position]
            if node.seq is None and parent is not None and nodes[parent].seq is not None:
                node.seq = (nodes[parent].seq or 0) + 1
                progress = True
        for node in nodes:
            known = [s for ch in children[node.position] if (s := nodes[ch].seq) is not None]
            if node.seq is None and known and min(known) > 1:
                node.seq = min(known) - 1
                progress = True
        if not progress:
            return


def order_checkpoints(records: Sequence[TraceRecord]) -> list[TraceRecord]:
    """The lineage order: Kahn's topological sort over parent links, ready nodes picked by
    (known seq first, lower seq, earlier created_at/timestamp, smaller trace id, original position);
    nodes left in cycles are appended in the same order.
    """
    nodes = _nodes(records)
    parents = _parents(nodes)
    children: list[list[int]] = [[] for _ in nodes]
    for child, parent in enumerate(parents):
        if parent is not None:
            children[parent].append(child)
    _infer_seqs(nodes, parents, children)

    indegree = [0 if p is None else 1 for p in parents]
    ready = [n for n in nodes if indegree[n.position] == 0]
    done: list[_Node] = []
    while ready:
        ready.sort(key=_Node.key)
        node = ready.pop(0)
        done.append(node)
        for child in children[node.position]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(nodes[child])
    placed = {n.position for n in done}
    done += sorted((n for n in nodes if n.position not in placed), key=_Node.key)
    return [n.record for n in done]
