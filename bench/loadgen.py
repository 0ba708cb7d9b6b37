"""Closed-loop load with wrk (one thread, N connections) and a parser for its `--latency` text output."""

from __future__ import annotations

import dataclasses
import re
import resource
import subprocess
from collections.abc import Sequence
from pathlib import Path

LUA_SCRIPT = Path(__file__).resolve().parent / "wrk_post.lua"

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_REQUESTS = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h),", re.MULTILINE)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_PERCENTILE = re.compile(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")


class WrkOutputError(ValueError):
    """wrk printed something this parser does not understand (its output is kept in the message)."""


@dataclasses.dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    duration_s: float
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_s: float = 0.0  # wrk's own user + system time


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def parse_wrk_output(text: str) -> WrkResult:
    requests, rate = _REQUESTS.search(text), _RATE.search(text)
    percentiles = {m[1]: float(m[2]) * _UNITS_MS[m[3]] for m in _PERCENTILE.finditer(text)}
    if requests is None or rate is None or not {"50", "99"} <= percentiles.keys():
        raise WrkOutputError(f"unexpected wrk output:\n{text}")
    socket_errors = _SOCKET_ERRORS.search(text)
    non_2xx = _NON_2XX.search(text)
    errors = sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    errors += int(non_2xx[1]) if non_2xx else 0
    return WrkResult(
        requests=int(requests[1]),
        duration_s=float(requests[2]) * _UNITS_MS[requests[3]] / 1000,
        requests_per_s=float(rate[1]),
        p50_ms=percentiles["50"],
        p99_ms=percentiles["99"],
        errors=errors,
    )


def run_wrk(
    url: str,
    body_file: Path,
    *,
    authorization: str,
    stream: bool,
    connections: int,
    duration_s: float,
    headers: Sequence[tuple[str, str]] = (),
) -> WrkResult:
    """One wrk thread: the load generator shares its CPU with nginx, so more threads would only contend.

    `stream` adds the header that makes the fake upstream answer with its SSE body (bench/fixtures.py);
    `headers` are sent as well (the gateway key of `gateway-auth`).
    """
    argv = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(LUA_SCRIPT),
        url,
        "--",
        str(body_file),
        authorization,
        "1" if stream else "0",
        *(part for header in headers for part in header),
    ]
    cpu_before = _children_cpu_s()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration_s + 60, check=False)
    if done.returncode != 0:
        raise WrkOutputError(f"wrk exited with {done.returncode}:\n{done.stdout}{done.stderr}")
    return dataclasses.replace(parse_wrk_output(done.stdout), cpu_s=_children_cpu_s() - cpu_before)
