"""Text mode of `report`: Rich tables for the spec's sections and a bar chart of requests and cost per day.

config-and-cli.md §5 "text mode": title `OngoingAI Report`; sections `Summary`, `Providers`, `Models`,
`API Keys`, `Recent Traces`; costs with 6 decimals. The chart follows the sections.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ongoingai.api.render import render_time
from ongoingai.query.analytics import CostPoint

BAR_WIDTH = 30
NO_WRAP = frozenset({"ID", "TIMESTAMP", "LAST_ACTIVE_AT", "API_KEY_HASH", "PATH"})
NUMERIC_COLUMNS = frozenset(
    {"INPUT_TOKENS", "OUTPUT_TOKENS", "TOTAL_TOKENS", "TOTAL_COST_USD", "REQUESTS", "AVG_LATENCY_MS"}
    | {"AVG_TTFT_MS", "STATUS", "TOKENS", "COST_USD", "LATENCY_MS"}
)
TEXT_WIDTH = 160  # when stdout is not a terminal: stable output for pipes and tests


def console() -> Console:
    return Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else TEXT_WIDTH)


def usd(value: float) -> str:
    return f"{value:.6f}"


def when(value: Any) -> str:
    return (render_time(value) if isinstance(value, datetime) else None) or "(none)"


def bar(value: float, maximum: float, width: int = BAR_WIDTH) -> str:
    """A left-aligned bar of `width` cells at most; any non-zero value shows at least one cell."""
    if maximum <= 0 or value <= 0:
        return ""
    return "█" * max(1, round(value / maximum * width))


def _grid(rows: Sequence[tuple[str, str]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for name, value in rows:
        grid.add_row(name, escape(value))
    return grid


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], empty: str) -> Table | str:
    if not rows:
        return empty
    table = Table(show_edge=False, header_style="bold")
    for header in headers:
        numeric = header in NUMERIC_COLUMNS
        table.add_column(
            header, justify="right" if numeric else "left", no_wrap=header in NO_WRAP, overflow="fold"
        )
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))  # stored text is data, never Rich markup
    return table


def daily_chart(points: Sequence[CostPoint]) -> Table | str:
    """One row per UTC day: a requests bar and a cost bar, each scaled to its own maximum."""
    if not points:
        return "(no daily data)"
    top_requests = max(p.request_count for p in points)
    top_cost = max(p.total_cost_usd for p in points)
    chart = Table(title="Requests and cost per day (UTC)", title_justify="left", show_edge=False)
    for header in ("DAY", "REQUESTS", "", "COST_USD", ""):
        chart.add_column(header, no_wrap=True)
    for p in points:
        day = p.bucket_start.strftime("%Y-%m-%d")
        chart.add_row(
            day,
            str(p.request_count),
            bar(p.request_count, top_requests),
            usd(p.total_cost_usd),
            bar(p.total_cost_usd, top_cost),
        )
    return chart


def render_report_text(document: dict[str, Any], daily: Sequence[CostPoint]) -> None:
    """Print the report document in text form."""
    out = console()
    filters, summary, storage = document["filters"], document["summary"], document["storage"]
    out.print("OngoingAI Report")
    meta = [("Schema version", document["schema_version"]), ("Generated at", when(document["generated_at"]))]
    meta.append(("Storage driver", storage["driver"]))
    if "path" in storage:
        meta.append(("Storage path", storage["path"]))
    for name in ("provider", "model"):
        meta.append((f"Filter {name}", filters.get(name) or "(all)"))
    for name in ("from", "to"):
        meta.append((f"Filter {name}", when(filters[name]) if name in filters else "(all)"))
    meta.append(("Filter limit", str(filters["limit"])))
    out.print(_grid(meta))
    out.print("\nSummary")
    out.print(
        _grid(
            [
                ("Total requests", str(summary["total_requests"])),
                ("Total input tokens", str(summary["total_input_tokens"])),
                ("Total output tokens", str(summary["total_output_tokens"])),
                ("Total tokens", str(summary["total_tokens"])),
                ("Estimated cost (USD)", usd(summary["total_cost_usd"])),
                ("Active API keys", str(summary["active_keys"])),
                ("Top model", summary.get("top_model") or "(none)"),
            ]
        )
    )
    _sections(out, document)
    out.print()
    out.print(daily_chart(daily))


Rows = list[list[str]]


def _section_rows(document: dict[str, Any]) -> list[tuple[str, tuple[str, ...], Rows]]:
    providers = [
        [p["provider"], str(p["input_tokens"]), str(p["output_tokens"]), str(p["total_tokens"])]
        + [usd(p["total_cost_usd"])]
        for p in document["providers"]
    ]
    models = [
        [m["model"], str(m["request_count"]), f"{m['avg_latency_ms']:.1f}", f"{m['avg_ttft_ms']:.1f}"]
        + [str(m["total_tokens"]), usd(m["total_cost_usd"])]
        for m in document["models"]
    ]
    keys = [
        [k["api_key_hash"], str(k["request_count"]), str(k["total_tokens"]), usd(k["total_cost_usd"])]
        + [when(k["last_active_at"])]
        for k in document["api_keys"]
    ]
    recent = [
        [t["id"], when(t["timestamp"]), t["provider"], t["model"], str(t["response_status"])]
        + [str(t["total_tokens"]), usd(t["estimated_cost_usd"]), str(t["latency_ms"]), t["request_path"]]
        for t in document["recent_traces"]
    ]
    cost, tokens = "TOTAL_COST_USD", "TOTAL_TOKENS"
    return [
        ("Providers", ("PROVIDER", "INPUT_TOKENS", "OUTPUT_TOKENS", tokens, cost), providers),
        ("Models", ("MODEL", "REQUESTS", "AVG_LATENCY_MS", "AVG_TTFT_MS", tokens, cost), models),
        ("API Keys", ("API_KEY_HASH", "REQUESTS", tokens, cost, "LAST_ACTIVE_AT"), keys),
        (
            "Recent Traces",
            ("ID", "TIMESTAMP", "PROVIDER", "MODEL", "STATUS", "TOKENS", "COST_USD", "LATENCY_MS", "PATH"),
            recent,
        ),
    ]


def _sections(out: Console, document: dict[str, Any]) -> None:
    for title, headers, rows in _section_rows(document):
        out.print()
        out.print(title)
        out.print(_table(headers, rows, f"(no {title.lower()} data)"))
