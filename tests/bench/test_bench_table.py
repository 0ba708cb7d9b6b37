"""The benchmark's pure parts: wrk output parsing and the results table (bench/ is scripts, not a package)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"


def _load(name: str) -> ModuleType:
    # Loaded by file path under a private name: bench/ is not on sys.path, and its module names are generic.
    spec = importlib.util.spec_from_file_location(f"ongoingai_bench_{name}", BENCH_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(module)
    return module


loadgen = _load("loadgen")
report = _load("report")

WRK_OUTPUT = """\
Running 3s test @ http://127.0.0.1:40001/v1/chat/completions
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     7.10ms    2.01ms  40.00ms   80.00%
    Req/Sec     2.20k   150.00     2.50k    70.00%
  Latency Distribution
     50%  650.00us
     75%    7.50ms
     90%    9.00ms
     99%    1.20s
  6601 requests in 3.00s, 5.40MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   2200.33
Transfer/sec:      1.80MB
"""


def test_wrk_output_is_parsed_with_units_and_errors() -> None:
    result = loadgen.parse_wrk_output(WRK_OUTPUT)
    assert result.requests == 6601
    assert result.duration_s == pytest.approx(3.0)
    assert result.requests_per_s == pytest.approx(2200.33)
    assert result.p50_ms == pytest.approx(0.65)
    assert result.p99_ms == pytest.approx(1200.0)
    assert result.errors == 2 + 1 + 4


def test_unexpected_wrk_output_is_an_error() -> None:
    with pytest.raises(loadgen.WrkOutputError):
        loadgen.parse_wrk_output("unable to connect to 127.0.0.1:1 Connection refused\n")


def _cell(target: str, concurrency: int, **figures: float | None) -> object:
    values: dict[str, float | None] = {
        "requests_per_s": 1000.0,
        "p50_ms": 1.0,
        "cpu_ms_per_request": 0.4,
        "first_event_ms": None,
        "rss_mib": 40.0,
    }
    values |= figures
    return report.Cell(
        target=target,
        mode="stream",
        concurrency=concurrency,
        requests=3000,
        spread_percent=None,
        p99_ms=2.0,
        cpu_percent=90.0,
        errors=0,
        steal_percent=0.0,
        other_load_percent=0.0,
        **values,
    )


CELLS = [
    _cell("direct", 1, requests_per_s=20000.0, p50_ms=0.1, cpu_ms_per_request=0.02, first_event_ms=0.1),
    _cell("ref-aiohttp", 1, p50_ms=0.6, first_event_ms=0.7),
    _cell("gateway", 1, p50_ms=0.8, first_event_ms=1.2, rss_mib=60.0),
    _cell("ref-aiohttp", 16, requests_per_s=4000.0, cpu_ms_per_request=0.24),
    _cell("gateway", 16, requests_per_s=2000.0, cpu_ms_per_request=0.30),
]
RUNS = [
    report.TargetRun("direct", 20.0),
    report.TargetRun("ref-aiohttp", 400.0),
    report.TargetRun("gateway", 900.0),
    report.TargetRun("ref-httpx", None, "did not start: see ref-httpx.log"),
]


def _row(table: str, target: str, concurrency: int) -> list[str]:
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] == target and cells[2] == str(concurrency):
            return cells
    raise AssertionError(f"no row for {target} c={concurrency}")


def test_table_shows_ratios_against_the_reference_and_the_direct_path() -> None:
    table = report.render_table(CELLS, RUNS)
    header = [c.strip() for c in table.splitlines()[0].strip("|").split("|")]
    row = dict(zip(header, _row(table, "gateway", 16), strict=True))
    assert row["req/s ×ref"] == "0.50"
    assert row["CPU ×ref"] == "1.25"
    row = dict(zip(header, _row(table, "gateway", 1), strict=True))
    assert row["p50 +direct"] == "+0.70"
    assert row["1st event +ref"] == "+0.50"
    assert row["startup ms"] == "900"
    assert "ref-httpx: not measured: did not start" in table


def test_every_table_line_has_the_same_width() -> None:
    lines = [ln for ln in report.render_table(CELLS, RUNS).splitlines() if ln.startswith("|")]
    assert len({len(ln) for ln in lines}) == 1


@pytest.mark.parametrize(
    ("text", "passed"),
    [
        ("CPU/request at c=16 (stream): 1.25×", True),
        ("req/s at c=16 (stream): 0.50×", False),
        ("p50 at c=1 (stream): reference +0.20 ms", True),
        ("first streamed event at c=1: reference +0.50 ms", False),
        ("startup: 900 ms", True),
        ("RSS: 60.0 MB", True),
    ],
    ids=["cpu", "throughput", "p50", "first-event", "startup", "rss"],
)
def test_issue_targets_are_judged_against_the_same_run(text: str, passed: bool) -> None:
    checks = report.check_targets(CELLS, RUNS)
    [check] = [c for c in checks if c.text.startswith(text)]
    assert check.passed is passed


AUTH_CELLS = [
    *CELLS,
    _cell("gateway-auth", 1, p50_ms=0.85, first_event_ms=1.25, cpu_ms_per_request=0.45, rss_mib=62.0),
    _cell("gateway-auth", 16, requests_per_s=1800.0, cpu_ms_per_request=0.33),
]
AUTH_RUNS = [*RUNS[:3], report.TargetRun("gateway-auth", 950.0), RUNS[3]]


def test_gateway_auth_gets_its_own_rows_against_the_reference() -> None:
    table = report.render_table(AUTH_CELLS, AUTH_RUNS)
    header = [c.strip() for c in table.splitlines()[0].strip("|").split("|")]
    row = dict(zip(header, _row(table, "gateway-auth", 16), strict=True))
    assert row["req/s ×ref"] == "0.45"
    assert row["CPU ×ref"] == "1.38"
    assert row["startup ms"] == "950"
    lines = [ln for ln in table.splitlines() if ln.startswith("|")]
    assert len({len(ln) for ln in lines}) == 1


def test_auth_added_cpu_is_a_line_under_the_table() -> None:
    table = report.render_table(AUTH_CELLS, AUTH_RUNS)
    [line] = [ln for ln in table.splitlines() if ln.startswith("auth's added CPU")]
    assert line == (
        "auth's added CPU per request (gateway-auth − gateway): "
        "stream c=1 +0.050 ms (+12 %), stream c=16 +0.030 ms (+10 %)"
    )
    # Under the table, above the targets that could not run.
    assert table.index(line) < table.index("ref-httpx: not measured")


def test_no_auth_line_without_both_gateways() -> None:
    assert "auth's added CPU" not in report.render_table(CELLS, RUNS)
    without_gateway = [*CELLS[:2], CELLS[3], *AUTH_CELLS[len(CELLS) :]]
    assert report.auth_overhead(without_gateway) == ""


@pytest.mark.parametrize(
    ("text", "passed"),
    [
        ("gateway-auth: CPU/request at c=16 (stream): 1.38×", True),
        ("gateway-auth: req/s at c=16 (stream): 0.45×", False),
        ("gateway-auth: p50 at c=1 (stream): reference +0.25 ms", True),
        ("gateway-auth: startup: 950 ms", True),
        ("gateway-auth: RSS: 62.0 MB", True),
    ],
    ids=["cpu", "throughput", "p50", "startup", "rss"],
)
def test_gateway_auth_is_judged_by_the_same_targets(text: str, passed: bool) -> None:
    checks = report.check_targets(AUTH_CELLS, AUTH_RUNS)
    [check] = [c for c in checks if c.text.startswith(text)]
    assert check.passed is passed
    # The plain gateway's checks keep their unprefixed text.
    assert any(c.text.startswith("CPU/request at c=16 (stream): 1.25×") for c in checks)
