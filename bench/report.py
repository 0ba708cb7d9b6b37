"""Results of one benchmark run and the one table that shows them, with ratios and the issue #2 targets.

Pure formatting: no I/O, so tests/bench can check it with made-up numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

REFERENCE = "ref-aiohttp"
DIRECT = "direct"
GATEWAY = "gateway"
GATEWAY_AUTH = "gateway-auth"  # the same gateway with auth on (issue 4)


@dataclass(frozen=True, slots=True)
class Cell:
    """One target × mode × concurrency measurement."""

    target: str
    mode: str  # "json" or "stream"
    concurrency: int
    requests: int
    requests_per_s: float
    spread_percent: float | None  # (max - min) / median of req/s over the rounds: the run's own noise
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float | None
    cpu_percent: float | None
    first_event_ms: float | None
    rss_mib: float | None
    errors: int
    steal_percent: float
    other_load_percent: float  # CPU used on the pinned CPUs by processes outside the bench, % of one CPU


@dataclass(frozen=True, slots=True)
class TargetRun:
    """A target's start: startup time, or why it could not be measured."""

    name: str
    startup_ms: float | None
    failure: str | None = None


@dataclass(frozen=True, slots=True)
class Check:
    passed: bool
    text: str


COLUMNS = (
    ("target", False),
    ("mode", False),
    ("conc", True),
    ("req/s", True),
    ("spread %", True),
    ("req/s ×ref", True),
    ("p50 ms", True),
    ("p50 +direct", True),
    ("p99 ms", True),
    ("CPU ms/req", True),
    ("CPU ×ref", True),
    ("proxy CPU %", True),
    ("1st event ms", True),
    ("1st event +ref", True),
    ("RSS MB", True),
    ("startup ms", True),
    ("errors", True),
    ("steal %", True),
    ("other load %", True),
)


def _fmt(value: float | None, digits: int, sign: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def _ratio(value: float | None, base: float | None) -> float | None:
    if value is None or not base:
        return None
    return value / base


class _Index:
    def __init__(self, cells: Iterable[Cell]) -> None:
        self._cells = {(c.target, c.mode, c.concurrency): c for c in cells}

    def get(self, target: str, mode: str, concurrency: int) -> Cell | None:
        return self._cells.get((target, mode, concurrency))


def _row(cell: Cell, index: _Index, startup_ms: float | None) -> list[str]:
    ref = index.get(REFERENCE, cell.mode, cell.concurrency)
    direct = index.get(DIRECT, cell.mode, cell.concurrency)
    is_proxy = cell.target != DIRECT
    added_p50 = cell.p50_ms - direct.p50_ms if direct and is_proxy else None
    first_vs_ref = None
    if ref and ref.first_event_ms is not None and cell.first_event_ms is not None and is_proxy:
        first_vs_ref = cell.first_event_ms - ref.first_event_ms
    cpu_ratio = _ratio(cell.cpu_ms_per_request, ref.cpu_ms_per_request if ref else None) if is_proxy else None
    return [
        cell.target,
        cell.mode,
        str(cell.concurrency),
        f"{cell.requests_per_s:,.0f}",
        _fmt(cell.spread_percent, 0),
        _fmt(_ratio(cell.requests_per_s, ref.requests_per_s if ref else None), 2),
        _fmt(cell.p50_ms, 2),
        _fmt(added_p50, 2, sign=True),
        _fmt(cell.p99_ms, 2),
        _fmt(cell.cpu_ms_per_request, 3),
        _fmt(cpu_ratio, 2),
        _fmt(cell.cpu_percent, 0),
        _fmt(cell.first_event_ms, 2),
        _fmt(first_vs_ref, 2, sign=True),
        _fmt(cell.rss_mib, 1),
        _fmt(startup_ms, 0),
        str(cell.errors),
        _fmt(cell.steal_percent, 1),
        _fmt(cell.other_load_percent, 0),
    ]


def render_table(cells: Sequence[Cell], targets: Sequence[TargetRun]) -> str:
    """A padded Markdown table, one row per cell; targets that could not run are listed under it."""
    index = _Index(cells)
    rows = [_row(c, index, t.startup_ms) for t in targets for c in cells if c.target == t.name]
    header = [name for name, _ in COLUMNS]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(COLUMNS))]
    right = [r for _, r in COLUMNS]

    def line(values: Sequence[str]) -> str:
        cells = [v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right, strict=True)]
        return "| " + " | ".join(cells) + " |"

    rule = "|" + "|".join(
        "-" * (w + 1) + ":" if r else "-" * (w + 2) for w, r in zip(widths, right, strict=True)
    )
    lines = [line(header), rule + "|", *(line(r) for r in rows)]
    auth = auth_overhead(cells)
    if auth:
        lines.append(f"\n{auth}")
    lines += [f"\n{t.name}: not measured: {t.failure}" for t in targets if t.failure is not None]
    return "\n".join(lines)


def auth_overhead(cells: Sequence[Cell]) -> str:
    """One line: the CPU per request auth adds (gateway-auth − gateway) in each cell where both ran."""
    index = _Index(cells)
    parts = []
    for cell in cells:
        if cell.target != GATEWAY_AUTH or cell.cpu_ms_per_request is None:
            continue
        base = index.get(GATEWAY, cell.mode, cell.concurrency)
        if base is None or base.cpu_ms_per_request is None:
            continue
        added = cell.cpu_ms_per_request - base.cpu_ms_per_request
        percent = _ratio(added * 100, base.cpu_ms_per_request)
        parts.append(f"{cell.mode} c={cell.concurrency} {added:+.3f} ms ({_fmt(percent, 0, sign=True)} %)")
    if not parts:
        return ""
    return "auth's added CPU per request (gateway-auth − gateway): " + ", ".join(parts)


def check_targets(cells: Sequence[Cell], targets: Sequence[TargetRun]) -> list[Check]:
    """The issue #2 performance targets for the gateway, judged against the reference of the same run.

    `gateway-auth` is judged by the same targets (issue 4: "with auth on stays within its targets"); its
    checks are prefixed with its name.
    """
    checks: list[Check] = []
    for gateway in (GATEWAY, GATEWAY_AUTH):
        label = "" if gateway == GATEWAY else f"{gateway}: "
        checks += [Check(c.passed, label + c.text) for c in _check_gateway(gateway, cells, targets)]
    return checks


def _check_gateway(gateway: str, cells: Sequence[Cell], targets: Sequence[TargetRun]) -> list[Check]:
    index = _Index(cells)
    checks: list[Check] = []
    for mode in ("json", "stream"):
        gw, ref = index.get(gateway, mode, 16), index.get(REFERENCE, mode, 16)
        if gw and ref:
            cpu = _ratio(gw.cpu_ms_per_request, ref.cpu_ms_per_request)
            if cpu is not None:
                checks.append(
                    Check(cpu <= 1.5, f"CPU/request at c=16 ({mode}): {cpu:.2f}× reference (≤ 1.5×)")
                )
            rps = gw.requests_per_s / ref.requests_per_s
            checks.append(Check(rps >= 0.65, f"req/s at c=16 ({mode}): {rps:.2f}× reference (≥ 0.65×)"))
        gw, ref = index.get(gateway, mode, 1), index.get(REFERENCE, mode, 1)
        if gw and ref:
            extra = gw.p50_ms - ref.p50_ms
            checks.append(Check(extra <= 0.3, f"p50 at c=1 ({mode}): reference {extra:+.2f} ms (≤ +0.30 ms)"))
            if gw.first_event_ms is not None and ref.first_event_ms is not None:
                extra = gw.first_event_ms - ref.first_event_ms
                text = f"first streamed event at c=1: reference {extra:+.2f} ms (≤ +0.30 ms)"
                checks.append(Check(extra <= 0.3, text))
    for target in targets:
        if target.name == gateway and target.startup_ms is not None:
            checks.append(
                Check(target.startup_ms <= 1000, f"startup: {target.startup_ms:.0f} ms (≤ 1000 ms)")
            )
    rss = [c.rss_mib for c in cells if c.target == gateway and c.rss_mib is not None]
    if rss:
        checks.append(Check(max(rss) <= 80, f"RSS: {max(rss):.1f} MB at most (≤ 80 MB)"))
    return checks


def render_checks(checks: Sequence[Check]) -> str:
    if not checks:
        return "- (no gateway measurements in this run)"
    return "\n".join(f"- [{'PASS' if c.passed else 'FAIL'}] {c.text}" for c in checks)
