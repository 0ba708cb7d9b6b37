"""Benchmark: direct-to-fake vs the reference pass-through vs the gateway, printed as one table.

`make bench` runs this with the project venv. The proxies under test are pinned to one CPU, nginx, wrk and the
first-event measurer to the other. All targets stay up for the whole run and the cells are measured in
interleaved rounds, so that a slow minute of a noisy VM hits every target alike; each figure is the median
over the rounds. See bench/README.md for what each column means.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import fake_upstream
import fixtures
import loadgen
import procstat
import report
import targets
import ttfe
from server_process import ServerProcess, StartupError

MODES = ("json", "stream")
SETTLE_S = 0.5  # lets work deferred past the response (trace writes) land inside the CPU window
MEASURE_ERRORS = (OSError, ttfe.HttpResponseError, loadgen.WrkOutputError, subprocess.SubprocessError)


@dataclass(frozen=True, slots=True)
class Options:
    targets: tuple[str, ...]
    concurrency: tuple[int, ...]
    modes: tuple[str, ...]
    duration_s: float
    warmup_s: float
    rounds: int
    first_event_requests: int
    nice: int
    realtime: bool
    results_dir: Path
    run_dir: Path
    keep_db: bool


@dataclass(frozen=True, slots=True)
class Sample:
    """One round of one cell."""

    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float | None
    cpu_percent: float
    rss_mib: float
    errors: int
    steal_percent: float
    other_load_percent: float
    first_event_ms: list[float]


def parse_args(argv: Sequence[str]) -> Options:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per cell and round")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds before each measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; figures are medians")
    parser.add_argument(
        "--quick", action="store_true", help="one round of 3 s cells, 200 first-event samples"
    )
    parser.add_argument(
        "--targets",
        default=",".join(targets.DEFAULT_TARGETS),
        help=f"comma-separated, in table order; known: {', '.join(targets.ALL_TARGETS)}",
    )
    parser.add_argument("--concurrency", default="1,16,64", help="comma-separated wrk connection counts")
    parser.add_argument("--modes", default="json,stream", help="json, stream or both")
    parser.add_argument("--first-event-requests", type=int, default=600, help="samples at concurrency 1")
    parser.add_argument(
        "--nice",
        type=int,
        default=-10,
        help="priority of the bench and its servers over other load (root only)",
    )
    parser.add_argument(
        "--realtime",
        action="store_true",
        help="SCHED_RR instead of nice: exact on a shared machine, but slows everyone else while it runs",
    )
    parser.add_argument("--results-dir", type=Path, default=targets.BENCH_DIR / "results")
    parser.add_argument("--keep-db", action="store_true", help="keep the gateway's SQLite file after the run")
    args = parser.parse_args(argv)
    names = tuple(n.strip() for n in args.targets.split(",") if n.strip())
    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    unknown = [n for n in names if n not in targets.ALL_TARGETS] + [m for m in modes if m not in MODES]
    if unknown:
        parser.error(
            f"unknown target or mode: {', '.join(unknown)} (targets: {', '.join(targets.ALL_TARGETS)})"
        )
    return Options(
        targets=names,
        concurrency=tuple(int(c) for c in args.concurrency.split(",")),
        modes=modes,
        duration_s=3.0 if args.quick else args.duration,
        warmup_s=1.0 if args.quick else args.warmup,
        rounds=1 if args.quick else max(1, args.rounds),
        first_event_requests=200 if args.quick else args.first_event_requests,
        nice=args.nice,
        realtime=args.realtime,
        results_dir=args.results_dir,
        run_dir=args.results_dir / datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ"),
        keep_db=args.keep_db,
    )


def pin_cpus() -> tuple[int | None, int | None]:
    """(proxy CPU, load CPU); this process moves to the load CPU so nginx, wrk and the measurer inherit it."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        print("warning: fewer than 2 CPUs available; nothing is pinned", file=sys.stderr)
        return None, None
    os.sched_setaffinity(0, {cpus[1]})
    return cpus[0], cpus[1]


def raise_priority(nice: int, realtime: bool) -> str:
    """Raise this process's priority, inherited by nginx, wrk and the targets, over other work on the CPUs.

    A nice value only weighs time slices: a woken proxy may still wait for someone else's slice to end, which
    shows as latency. SCHED_RR preempts them at once; the kernel still keeps 5 % of each CPU for others.
    """
    try:
        if realtime:
            os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(1))
            return "SCHED_RR 1 (--realtime)"
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    except PermissionError:
        return "not changed (needs root)"
    return f"nice {nice}"


def check_answers(running: targets.Running) -> None:
    """One request per mode before measuring: status 200 and the fake's exact bytes, or the target fails."""
    client = ttfe.Client(running.port, running.path, running.headers)
    try:
        for stream, expected in ((False, fixtures.completion_json()), (True, fixtures.completion_sse())):
            response = client.request(stream=stream)
            if response.status != 200 or response.body != expected.encode():
                kind = "streaming" if stream else "non-streaming"
                raise ttfe.HttpResponseError(
                    f"{kind} request got status {response.status} and {len(response.body)} body bytes "
                    f"({'identical' if response.body == expected.encode() else 'different from the fake'})"
                )
    finally:
        client.close()


def measure_round(
    running: targets.Running, nginx_pid: int, cpus: set[int], mode: str, concurrency: int, opts: Options
) -> Sample:
    assert running.process is not None
    pid, stream = running.process.pid, mode == "stream"
    url = f"http://127.0.0.1:{running.port}{running.path}"
    body_file = opts.run_dir / f"request-{mode}.json"
    load = functools.partial(
        loadgen.run_wrk,
        url,
        body_file,
        authorization=fixtures.AUTHORIZATION,
        stream=stream,
        connections=concurrency,
        headers=running.headers,
    )
    load(duration_s=opts.warmup_s)
    time.sleep(SETTLE_S)
    ours_before = _ours(pid, nginx_pid)
    times_before, started = procstat.cpu_times(), time.perf_counter()
    result = load(duration_s=opts.duration_s)
    elapsed, times_after = time.perf_counter() - started, procstat.cpu_times()
    ours = [after - before for after, before in zip(_ours(pid, nginx_pid), ours_before, strict=True)]
    time.sleep(SETTLE_S)
    cpu_total = procstat.cpu_seconds(pid) - ours_before[0]
    # Whatever else ran on the two pinned CPUs meanwhile (other people's tests on a shared machine).
    ours_total = result.cpu_s + ours[0] + ours[2] + (ours[1] if nginx_pid != pid else 0.0)
    other = procstat.busy_seconds(times_before, times_after, cpus) - ours_total
    first_event: list[float] = []
    if stream and concurrency == 1:
        wanted = -(-opts.first_event_requests // opts.rounds)
        first_event = ttfe.measure_first_event(
            running.port, running.path, requests=wanted, max_seconds=opts.duration_s, headers=running.headers
        )
    return Sample(
        requests=result.requests,
        requests_per_s=result.requests_per_s,
        p50_ms=result.p50_ms,
        p99_ms=result.p99_ms,
        cpu_ms_per_request=1000 * cpu_total / result.requests if result.requests else None,
        cpu_percent=100 * ours[0] / elapsed,
        rss_mib=procstat.rss_mib(pid),
        errors=result.errors,
        steal_percent=procstat.steal_percent(times_before, times_after),
        other_load_percent=max(0.0, 100 * other / elapsed),
        first_event_ms=first_event,
    )


def _self_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _ours(pid: int, nginx_pid: int) -> list[float]:
    return [procstat.cpu_seconds(pid), procstat.cpu_seconds(nginx_pid), _self_cpu_s()]


def _spread(rates: Sequence[float]) -> float | None:
    median = statistics.median(rates)
    return 100 * (max(rates) - min(rates)) / median if len(rates) > 1 and median else None


def combine(name: str, mode: str, concurrency: int, samples: Sequence[Sample]) -> report.Cell:
    rates = [s.requests_per_s for s in samples]
    cpu = [s.cpu_ms_per_request for s in samples if s.cpu_ms_per_request is not None]
    first_event = [ms for s in samples for ms in s.first_event_ms]
    return report.Cell(
        target=name,
        mode=mode,
        concurrency=concurrency,
        requests=sum(s.requests for s in samples),
        requests_per_s=statistics.median(rates),
        spread_percent=_spread(rates),
        p50_ms=statistics.median(s.p50_ms for s in samples),
        p99_ms=statistics.median(s.p99_ms for s in samples),
        cpu_ms_per_request=statistics.median(cpu) if cpu else None,
        cpu_percent=statistics.median(s.cpu_percent for s in samples),
        first_event_ms=statistics.median(first_event) if first_event else None,
        rss_mib=max(s.rss_mib for s in samples),
        errors=sum(s.errors for s in samples),
        steal_percent=max(s.steal_percent for s in samples),
        other_load_percent=max(s.other_load_percent for s in samples),
    )


def _remove_databases(run_dir: Path, names: Sequence[str] = targets.GATEWAYS) -> None:
    for name in names:
        for db_file in (run_dir / name).glob("*.db*"):
            db_file.unlink()


def start_target(
    name: str, nginx: ServerProcess, nginx_port: int, cpu: int | None, opts: Options
) -> targets.Running:
    """Start twice and keep the second: the first fills the bytecode cache (and is not timed)."""
    if name == targets.DIRECT:
        direct = targets.Running(nginx, nginx_port, targets.CHAT_PATH)
        check_answers(direct)
        return direct
    first = targets.STARTERS[name](opts.run_dir, nginx_port, cpu)
    assert first.process is not None
    first.process.stop()
    # The timed start creates and migrates its SQLite file, as a first start does. Only this target's: the
    # other gateway may already be up with its own.
    _remove_databases(opts.run_dir, (name,))
    running = targets.STARTERS[name](opts.run_dir, nginx_port, cpu)
    try:
        check_answers(running)
    except MEASURE_ERRORS:
        assert running.process is not None
        running.process.stop()
        raise
    return running


class Bench:
    """The targets of one run, their samples, and the reasons any of them stopped early."""

    def __init__(
        self, opts: Options, nginx: ServerProcess, nginx_port: int, cpus: tuple[int | None, int | None]
    ) -> None:
        self.opts, self.nginx, self.nginx_port, self.cpus = opts, nginx, nginx_port, cpus
        self.running: dict[str, targets.Running] = {}
        self.failures: dict[str, str] = {}
        self.startup_ms: dict[str, float] = {}
        self.samples: dict[tuple[str, str, int], list[Sample]] = {}

    def start_all(self) -> None:
        for name in self.opts.targets:
            try:
                running = start_target(name, self.nginx, self.nginx_port, self.cpus[0], self.opts)
            except StartupError as exc:
                self.failures[name] = f"did not start: {exc}"
            except MEASURE_ERRORS as exc:
                self.failures[name] = f"answered wrongly: {exc}"
            else:
                assert running.process is not None
                self.running[name] = running
                self.startup_ms[name] = running.process.startup_s * 1000
                print(f"{name}: up in {self.startup_ms[name]:.0f} ms on port {running.port}", file=sys.stderr)

    def measure_all(self) -> None:
        for mode in self.opts.modes:
            for concurrency in self.opts.concurrency:
                for round_no in range(self.opts.rounds):
                    names = list(self.running)
                    if not names:
                        return
                    # Rotate the order every round so that no target always runs right after the same one.
                    for name in names[round_no % len(names) :] + names[: round_no % len(names)]:
                        self._measure(name, mode, concurrency)

    def _measure(self, name: str, mode: str, concurrency: int) -> None:
        try:
            cpus = {c for c in self.cpus if c is not None}
            sample = measure_round(self.running[name], self.nginx.pid, cpus, mode, concurrency, self.opts)
        except MEASURE_ERRORS as exc:
            self.failures[name] = f"failed at {mode} c={concurrency}: {exc}"
            self._stop(name)
            return
        self.samples.setdefault((name, mode, concurrency), []).append(sample)
        print(f"  {name} {mode} c={concurrency}: {sample.requests_per_s:,.0f} req/s", file=sys.stderr)

    def _stop(self, name: str) -> None:
        running = self.running.pop(name, None)
        if running is not None and running.process is not None and running.process is not self.nginx:
            running.process.stop()

    def stop_all(self) -> None:
        for name in list(self.running):
            self._stop(name)
        if not self.opts.keep_db:
            _remove_databases(self.opts.run_dir)

    def results(self) -> tuple[list[report.TargetRun], list[report.Cell]]:
        runs = [report.TargetRun(n, self.startup_ms.get(n), self.failures.get(n)) for n in self.opts.targets]
        cells = [combine(n, m, c, s) for (n, m, c), s in self.samples.items()]
        return runs, cells


def _version(argv: Sequence[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "?"
    lines = (done.stdout + done.stderr).strip().splitlines()
    return lines[0] if lines else "?"


def environment(opts: Options, cpus: tuple[int | None, int | None], priority: str, steal: float) -> list[str]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model name")), "?"
    )
    packages = ", ".join(f"{p} {metadata.version(p)}" for p in ("aiohttp", "httpx", "uvloop", "uvicorn"))
    pinning = (
        f"proxy on CPU {cpus[0]}, nginx + wrk + measurer on CPU {cpus[1]}" if cpus[0] is not None else "none"
    )
    return [
        f"- host: {model}, {os.cpu_count()} CPUs, Linux {platform.release()}",
        f"- pinning: {pinning}; priority: {priority}",
        f"- {_version(['nginx', '-v'])}; {_version(['wrk', '-v']).split(' Copyright')[0]}; "
        f"Python {platform.python_version()}; {packages}",
        f"- {opts.rounds} interleaved round(s) of {opts.duration_s:g} s per cell, each after "
        f"{opts.warmup_s:g} s of warm-up; medians over rounds; "
        f"first event: p50 of up to {opts.first_event_requests} streams",
        f"- CPU steal over the whole run: {steal:.1f} % (above ~2 % the numbers are suspect; rerun)",
    ]


def render(runs: list[report.TargetRun], cells: list[report.Cell], env: list[str], stamp: str) -> str:
    table = report.render_table(cells, runs)
    checks = report.render_checks(report.check_targets(cells, runs))
    return (
        f"# Benchmark {stamp}\n\n"
        + "\n".join(env)
        + f"\n\n{table}\n\n## Issue #2 targets (gateway; gateway-auth for issue 4)\n\n{checks}\n"
    )


def main(argv: Sequence[str]) -> int:
    opts = parse_args(argv)
    fake_upstream.ensure_tools()
    cpus = pin_cpus()
    priority = raise_priority(opts.nice, opts.realtime)
    opts.run_dir.mkdir(parents=True, exist_ok=True)
    for mode in MODES:
        (opts.run_dir / f"request-{mode}.json").write_bytes(fixtures.request_body(mode == "stream"))
    steal_start = procstat.cpu_times()
    nginx, nginx_port = fake_upstream.start_nginx(opts.run_dir, cpus[1])
    bench = Bench(opts, nginx, nginx_port, cpus)
    try:
        bench.start_all()
        bench.measure_all()
    finally:
        bench.stop_all()
        nginx.stop()
    runs, cells = bench.results()
    env = environment(opts, cpus, priority, procstat.steal_percent(steal_start, procstat.cpu_times()))
    text = render(runs, cells, env, opts.run_dir.name)
    print(text)
    (opts.results_dir / "latest.md").write_text(text)
    payload = {"targets": [asdict(r) for r in runs], "cells": [asdict(c) for c in cells]}
    (opts.run_dir / "results.json").write_text(json.dumps(payload, indent=2))
    return 0 if all(r.failure is None for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
