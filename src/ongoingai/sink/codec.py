"""TraceRecord ↔ JSON bytes for the spill journal: every field, datetimes as RFC 3339 with offset.

The journal holds exactly what the record holds (records are redacted before they reach a sink), so
no secret can reach the disk that the database would not also receive.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

import orjson

from ongoingai.traces import TraceRecord

# `undecodable_json` exists only on records read back from a store; capture never sets it.
_FIELDS = tuple(f.name for f in fields(TraceRecord) if f.name != "undecodable_json")
_TIMES = ("timestamp", "created_at")


def record_to_dict(record: TraceRecord) -> dict[str, Any]:
    out = {name: getattr(record, name) for name in _FIELDS}
    for name in _TIMES:
        value = out[name]
        out[name] = value.isoformat() if isinstance(value, datetime) else None
    return out


def record_from_dict(data: dict[str, Any]) -> TraceRecord:
    values = {name: data[name] for name in _FIELDS if name in data}
    for name in _TIMES:
        raw = values.get(name)
        values[name] = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    return TraceRecord(**values)


def encode_batch(records: list[TraceRecord]) -> bytes:
    return orjson.dumps([record_to_dict(r) for r in records])


def decode_batch(payload: bytes) -> list[TraceRecord]:
    return [record_from_dict(item) for item in orjson.loads(payload)]
