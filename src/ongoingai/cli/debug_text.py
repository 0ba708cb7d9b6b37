"""Text mode of `debug`: title `OngoingAI Debug Chain`, the selection, each step, then the diffs.

Diff lines carry only flags, deltas and metadata key names, as in the JSON: no header, body or metadata
value of a checkpoint is ever shown by `--diff`.
"""

from __future__ import annotations

from typing import Any

import orjson
from rich.markup import escape
from rich.table import Table

from ongoingai.cli.report_text import console, usd, when


def _or(value: Any, fallback: str) -> str:
    return str(value) if value not in (None, "") else fallback


def _grid(rows: list[tuple[str, str]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for name, value in rows:
        grid.add_row(name, escape(value))
    return grid


def _header(doc: dict[str, Any]) -> list[tuple[str, str]]:
    selection, options, source, chain = doc["selection"], doc["options"], doc["source"], doc["chain"]
    rows = [("Schema version", doc["schema_version"]), ("Generated at", when(doc["generated_at"]))]
    rows.append(("Filter trace_id", selection.get("trace_id", "(latest)")))
    rows += [(f"Filter {n}", selection.get(n, "(none)")) for n in ("trace_group_id", "thread_id", "run_id")]
    rows += [(f"Option {name}", str(value).lower()) for name, value in options.items()]
    rows += [
        ("Source trace", doc["source_trace_id"]),
        ("Source time", when(doc["source_timestamp"])),
        ("Source provider", _or(source["provider"], "(unknown)")),
        ("Source model", _or(source["model"], "(unknown)")),
        ("Source path", _or(source["request_path"], "(unknown)")),
        ("Source status", str(source["response_status"])),
        ("Chain identifier", chain["lineage_identifier"]),
    ]
    rows += [(f"Chain {n}", chain.get(n, "(none)")) for n in ("group_id", "thread_id", "run_id")]
    rows += [
        ("Chain checkpoints", str(chain["checkpoint_count"])),
        ("Truncated", str(chain["truncated"]).lower()),
    ]
    return rows


def _step(cp: dict[str, Any]) -> list[tuple[str, str]]:
    lineage = cp["lineage"]
    rows = [
        ("time", when(cp["created_at"] or cp["timestamp"])),
        ("provider", _or(cp["provider"], "(unknown)")),
        ("model", _or(cp["model"], "(unknown)")),
        ("request", f"{_or(cp['request_method'], 'UNKNOWN')} {_or(cp['request_path'], '(unknown)')}"),
        ("response_status", str(cp["response_status"])),
        ("tokens", f"input={cp['input_tokens']} output={cp['output_tokens']} total={cp['total_tokens']}"),
        ("estimated_cost_usd", usd(cp["estimated_cost_usd"])),
        ("latency_ms", str(cp["latency_ms"])),
        ("ttft_ms", str(cp["time_to_first_token_ms"])),
        (
            "lineage",
            f"checkpoint={_or(lineage.get('checkpoint_id'), '(none)')} "
            f"parent={_or(lineage.get('parent_checkpoint_id'), '(none)')} "
            f"seq={lineage.get('checkpoint_seq', 0)} immutable={str(lineage['immutable']).lower()}",
        ),
    ]
    if "metadata" in cp:
        rows.append(("metadata", orjson.dumps(cp["metadata"]).decode()))
    for name in ("request_headers", "response_headers", "request_body", "response_body"):
        if cp.get(name):
            rows.append((name, cp[name]))
    return rows


def _diffs(diffs: list[dict[str, Any]]) -> Table | str:
    if not diffs:
        return "(no checkpoint diffs)"
    table = Table(show_edge=False, header_style="bold")
    columns = (
        "FROM",
        "TO",
        "TOTAL_TOKENS_DELTA",
        "LATENCY_DELTA_MS",
        "PATH",
        "MODEL",
        "STATUS",
        "REQ_BODY",
        "RESP_BODY",
    )
    for column in (*columns, "METADATA_KEYS_CHANGED"):
        table.add_column(column, overflow="fold")
    for d in diffs:
        flags = ("request_path", "model", "response_status", "request_body", "response_body")
        table.add_row(
            d["from_checkpoint_id"],
            d["to_checkpoint_id"],
            str(d["total_tokens_delta"]),
            str(d["latency_delta_ms"]),
            *("changed" if d[f"{flag}_changed"] else "-" for flag in flags),
            str(len(d.get("metadata_keys_changed", []))),
        )
    return table


def render_debug_text(doc: dict[str, Any]) -> None:
    """Print the debug-chain document in text form."""
    out = console()
    out.print("OngoingAI Debug Chain")
    out.print(_grid(_header(doc)))
    for cp in doc["chain"]["checkpoints"]:
        out.print(f"\nStep {cp['step']}: {cp['id']}")
        out.print(_grid(_step(cp)))
    if not doc["options"]["include_diff"]:
        return
    out.print("\nDiffs")
    diffs = doc.get("diffs", [])
    out.print(_diffs(diffs))
    for d in diffs:
        keys = {k: d.get(f"metadata_keys_{k}", []) for k in ("added", "removed", "changed")}
        if any(keys.values()):
            out.print(f"\nDiff {d['from_checkpoint_id']} -> {d['to_checkpoint_id']} metadata keys")
            out.print(_grid([(name, ",".join(names)) for name, names in keys.items()]))
