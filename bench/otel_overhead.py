"""OpenTelemetry overhead (issue 7 "Performance"): gateway CPU per request with OTel off, at 0.1 and 1.0.

Each mode runs in a process of its own (so `off` never imports OpenTelemetry, as in production): the
production wiring (`build_gateway`: SQLite store, batch writer, JSON access log written to /dev/null),
driven in-process through ASGI with a fixed POST `/openai/v1/chat/completions` and a cheap
receive/send, so almost all CPU spent is the gateway's. The upstream is one aiohttp process shared by
every mode, and also the OTLP/HTTP collector (200 to `/v1/traces` and `/v1/metrics`): exporting,
encoding included, is counted on the gateway's side and nothing on the other.

OTel on means traces (parent-based ratio sampler), OTLP metrics and Prometheus, as the issue asks.
A cell is a warm-up then `--requests` requests at `--concurrency`; its figure is process CPU time (user
+ system, every thread: the aiosqlite writer and the span exporter included) per request, read after
the writer drained and spans were flushed. Rounds are interleaved in rotated order so a noisy minute
hits every mode; each figure is the median over rounds. A benchmark, not a test: nothing asserts.
`--threads` also shows the CPU spent in the cyclic garbage collector, `(gc)`, already counted in the
threads' figures (sampled spans are what makes it grow).

    .venv/bin/python bench/otel_overhead.py [--requests 2000] [--rounds 5] [--concurrency 8] [--auth]
    .venv/bin/python bench/otel_overhead.py --modes off,metrics-only,traces-0.1 --threads  # diagnosis
    .venv/bin/python bench/otel_overhead.py --profile ratio-0.1   # cProfile (CPU time) of one mode
    .venv/bin/python bench/otel_overhead.py --profile ratio-0 --profile-out /tmp/r0.pstats  # to diff modes
    .venv/bin/python bench/otel_overhead.py --modes off --stream   # streamed completions instead of JSON

The gateway process runs alone on CPU 0, the upstream/collector and this driver on CPU 1 (as run.py
pins). The table also shows each mode's minimum over the rounds: on a VM, noise only ever adds.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import logging
import os
import pstats
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fixtures import (  # bench/ is on sys.path, as for run.py
    AUTHORIZATION,
    completion_json,
    completion_sse,
    request_body,
)
from ongoingai.app import Gateway, build_gateway
from ongoingai.config import Settings
from ongoingai.observability.logging import configure_logging

GATEWAY_TOKEN = "ogk_benchOverheadTOKEN_0123456789abcdef"
# mode → (trace sampling ratio or None for no traces, metrics on); `off` is OTel disabled altogether.
MODES: dict[str, tuple[float | None, bool]] = {
    "off": (None, False),
    "ratio-0.1": (0.1, True),
    "ratio-1.0": (1.0, True),
    "metrics-only": (None, True),  # diagnosis: where the cost of the issue's modes comes from
    "traces-0.1": (0.1, False),
    "traces-0": (0.0, False),  # nothing sampled: the cost every unsampled request pays
    "ratio-0": (0.0, True),  # nothing sampled, metrics on: the 0.1 mode less its sampled spans
}
DEFAULT_MODES = "off,ratio-0.1,ratio-1.0"
GATEWAY_CPU, OTHERS_CPU = 0, 1

UPSTREAM = """
import json, sys
from aiohttp import web
bodies = json.loads(sys.stdin.read())
body, sse = bodies["json"].encode(), bodies["sse"].encode()
async def chat(request):
    await request.read()
    if request.headers.get("x-bench-stream") == "1":  # as bench/nginx.conf.template: the SSE body at once
        return web.Response(body=sse, content_type="text/event-stream")
    return web.Response(body=body, content_type="application/json")
async def collector(request):
    await request.read()
    return web.Response(body=b"", content_type="application/x-protobuf")
app = web.Application()
app.router.add_post("/v1/chat/completions", chat)
app.router.add_post("/v1/traces", collector)
app.router.add_post("/v1/metrics", collector)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def pin(cpu: int) -> Callable[[], None] | None:
    """As bench/run.py: the gateway alone on CPU 0, the upstream/collector (and this driver) on CPU 1,
    so that neither steals the other's time slices. Nothing is pinned on a single-CPU machine."""
    if (os.cpu_count() or 1) < 2:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_upstream(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-c", UPSTREAM, str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        preexec_fn=pin(OTHERS_CPU),
    )
    assert proc.stdin is not None
    proc.stdin.write(json.dumps({"json": completion_json(), "sse": completion_sse()}).encode())
    proc.stdin.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("the fake upstream did not start")


def settings_for(mode: str, upstream: str, db: Path, spill: Path, auth: bool) -> Settings:
    ratio, metrics = MODES[mode]
    otel: dict[str, Any] = {"enabled": False}
    if mode != "off":
        otel = {
            "enabled": True,
            "endpoint": upstream,
            "traces_enabled": ratio is not None,
            "sampling_ratio": ratio if ratio is not None else 1.0,
            "prometheus_enabled": metrics,
            "metrics_enabled": metrics,
        }
    data: dict[str, Any] = {
        "providers": {"openai": {"upstream": upstream, "prefix": "/openai"}},
        "storage": {"driver": "sqlite", "path": str(db)},
        "tracing": {"capture_bodies": True, "spill": {"path": str(spill)}},
        "observability": {"otel": otel},
    }
    if auth:
        data["auth"] = {
            "enabled": True,
            "keys": [{"id": "bench", "token": GATEWAY_TOKEN, "org_id": "acme", "workspace_id": "ws"}],
        }
    return Settings(**data)


async def start(app: Gateway) -> Callable[[], Awaitable[None]]:
    """Run the ASGI lifespan: startup now, shutdown when the returned function is awaited."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    task = asyncio.create_task(app({"type": "lifespan"}, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    reply = await outbox.get()
    if reply["type"] != "lifespan.startup.complete":
        raise SystemExit(f"gateway failed to start: {reply}")

    async def stop() -> None:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task

    return stop


def request_scope(auth: bool, body: bytes, stream: bool = False) -> dict[str, Any]:
    headers = [
        (b"host", b"127.0.0.1:8080"),
        (b"user-agent", b"OpenAI/Python 1.55.0"),
        (b"accept", b"text/event-stream" if stream else b"application/json"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"authorization", AUTHORIZATION.encode()),
    ]
    if auth:
        headers.append((b"x-ongoingai-gateway-key", GATEWAY_TOKEN.encode()))
    if stream:
        headers.append((b"x-bench-stream", b"1"))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/openai/v1/chat/completions",
        "raw_path": b"/openai/v1/chat/completions",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }


async def one_request(app: Gateway, scope: dict[str, Any], body: bytes) -> int:
    sent_body = False
    done = asyncio.Event()
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()  # the proxy's disconnect watcher waits here until the response ended
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            done.set()

    await app(dict(scope), receive, send)
    done.set()
    return status


async def settle(app: Gateway) -> None:
    """Deferred work belongs to the cell: wait until the writer has written everything, flush spans."""
    writer: Any = app.sink
    while True:
        diag = writer.diagnostics()
        if diag.get("queue_depth", 0) == 0:
            break
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.3)  # the last batch is in the writer's hands: let its flush timer pass
    await asyncio.to_thread(app.telemetry.force_flush)


async def cell(app: Gateway, requests: int, concurrency: int, auth: bool, stream: bool = False) -> float:
    body = request_body(stream=stream)
    scope = request_scope(auth, body, stream)
    per_worker = requests // concurrency

    async def worker() -> None:
        for _ in range(per_worker):
            status = await one_request(app, scope, body)
            if status != 200:
                raise SystemExit(f"unexpected status {status}")

    await settle(app)
    gc.collect()
    cpu = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await settle(app)
    return (time.process_time() - cpu) / (per_worker * concurrency)


def thread_cpu() -> dict[str, float]:
    """CPU seconds per Python thread name (Linux /proc), to see where a mode's cost goes (`--threads`)."""
    tick = os.sysconf("SC_CLK_TCK")
    names = {t.native_id: t.name.split(" ")[0].split("-")[0] for t in threading.enumerate()}
    out: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = names.get(int(task.name), "other")
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


async def child(args: argparse.Namespace, workdir: Path) -> None:
    """One mode in this process: build, warm up, then measure one cell (or profile it)."""
    mode = args.child
    settings = settings_for(mode, args.upstream, workdir / "gateway.db", workdir / "spill", args.auth)
    app = build_gateway(settings)
    stop = await start(app)
    await cell(app, args.concurrency * 50, args.concurrency, args.auth, args.stream)  # connections, imports
    if args.profile:
        profiler = cProfile.Profile(time.thread_time)  # this thread's CPU, not wall time (GIL waits)
        profiler.enable()
        await cell(app, args.requests, args.concurrency, args.auth, args.stream)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.top)
        if args.profile_out:
            profiler.dump_stats(args.profile_out)
    else:
        gc_spent = [0.0, 0.0]  # CPU seconds in the cyclic collector, start of the running collection

        def on_gc(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                gc_spent[1] = time.thread_time()
            else:
                gc_spent[0] += time.thread_time() - gc_spent[1]

        gc.callbacks.append(on_gc)
        before = thread_cpu()
        seconds = await cell(app, args.requests, args.concurrency, args.auth, args.stream)
        after = thread_cpu()
        gc.callbacks.remove(on_gc)
        threads = {n: (after[n] - before.get(n, 0.0)) / args.requests for n in after}
        threads["(gc)"] = gc_spent[0] / args.requests  # part of the threads' figures, shown apart
        print(json.dumps({"mode": mode, "cpu": seconds, "threads": threads}))
    await stop()


def spawn(args: argparse.Namespace, mode: str, upstream: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", mode, "--upstream", upstream]
    command += ["--requests", str(args.requests), "--concurrency", str(args.concurrency)]
    command += ["--auth"] if args.auth else []
    command += ["--stream"] if args.stream else []
    done = subprocess.run(command, capture_output=True, text=True, check=False, preexec_fn=pin(GATEWAY_CPU))
    if done.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(args: argparse.Namespace, upstream: str) -> None:
    """Every mode in a process of its own (off never imports OpenTelemetry), rounds interleaved."""
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {OTHERS_CPU})
    modes = args.modes.split(",")
    results: dict[str, list[float]] = {mode: [] for mode in modes}
    for round_no in range(args.rounds):
        shift = round_no % len(modes)
        for mode in modes[shift:] + modes[:shift]:
            result = spawn(args, mode, upstream)
            results[mode].append(result["cpu"])
            if args.threads:
                spent = sorted(result["threads"].items())
                shown = ", ".join(f"{n} {s * 1e6:.0f}" for n, s in spent if s * 1e6 >= 1)
                print(f"round {round_no} {mode}: µs/request by thread: {shown}")
    base = statistics.median(results["off"]) if "off" in results else 0.0
    print(f"\nCPU per request, median of {args.rounds} rounds x {args.requests} requests")
    print(f"(concurrency {args.concurrency}, auth {'on' if args.auth else 'off'})")
    # The minimum too: on a VM the noise (a neighbour's time slices counted as ours) only ever adds.
    floor = min(results["off"]) if "off" in results else 0.0
    print(f"{'mode':<12} {'µs/request':>11} {'vs off':>8} {'spread':>8} {'min µs':>8} {'min vs off':>11}")
    for name, values in results.items():
        median = statistics.median(values)
        spread = (max(values) - min(values)) / median * 100
        versus = f"{(median / base - 1) * 100:>+7.1f}%" if base else "      -"
        least = min(values)
        least_versus = f"{(least / floor - 1) * 100:>+10.1f}%" if floor else "          -"
        print(f"{name:<12} {median * 1e6:>11.1f} {versus} {spread:>7.1f}% {least * 1e6:>8.1f} {least_versus}")
    print(f"load average after the run: {os.getloadavg()[0]:.2f} (shared machine: figures are indicative)")


def quiet_logging() -> None:
    """The production JSON logging, written to /dev/null: its formatting cost stays in the figure."""
    configure_logging("info", "json")
    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--modes", default=DEFAULT_MODES, help=f"comma-separated, of: {', '.join(MODES)}")
    parser.add_argument("--auth", action="store_true", help="auth on, one config key")
    parser.add_argument("--stream", action="store_true", help="streamed completions (the bench SSE body)")
    parser.add_argument("--threads", action="store_true", help="also print CPU per thread and cell")
    parser.add_argument("--profile", choices=list(MODES), help="profile this mode instead of measuring")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--profile-out", help="with --profile: also write the pstats file here")
    parser.add_argument("--child", choices=list(MODES), help=argparse.SUPPRESS)
    parser.add_argument("--upstream", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        quiet_logging()
        with tempfile.TemporaryDirectory(prefix="otel-overhead-") as tmp:
            asyncio.run(child(args, Path(tmp)))
        return
    port = free_port()
    proc = start_upstream(port)
    upstream = f"http://127.0.0.1:{port}"
    try:
        if args.profile:
            args.child, args.upstream = args.profile, upstream
            quiet_logging()
            with tempfile.TemporaryDirectory(prefix="otel-overhead-") as tmp:
                asyncio.run(child(args, Path(tmp)))
        else:
            measure(args, upstream)
    finally:
        proc.terminate()
        proc.wait(5)


if __name__ == "__main__":
    main()
