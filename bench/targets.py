"""The systems under test: how to start each one and which URL path reaches the fake upstream through it."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from server_process import ServerProcess, free_port, start_server

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
CHAT_PATH = "/v1/chat/completions"
GATEWAY_PREFIX = "/openai"


@dataclass(frozen=True, slots=True)
class Running:
    """A started target: `process` is None for `direct`, whose server is the fake upstream itself."""

    process: ServerProcess | None
    port: int
    path: str


Starter = Callable[[Path, int, int | None], Running]


def _python_env() -> dict[str, str]:
    # The project's ONGOINGAI_* overrides would beat the generated YAML; the bench config must win.
    return {k: v for k, v in os.environ.items() if not k.startswith("ONGOINGAI_")} | {"PYTHONUNBUFFERED": "1"}


def _reference(script: str) -> Starter:
    def start(work_dir: Path, upstream_port: int, cpu: int | None) -> Running:
        port = free_port()
        argv = [sys.executable, str(BENCH_DIR / script), str(port), f"http://127.0.0.1:{upstream_port}"]
        log = work_dir / f"{Path(script).stem}.log"
        process = start_server(
            script, argv, port=port, probe_path="/", cpu=cpu, log_path=log, env=_python_env()
        )
        return Running(process, port, CHAT_PATH)

    return start


def gateway_config(work_dir: Path, port: int, upstream_port: int) -> dict[str, object]:
    upstream = f"http://127.0.0.1:{upstream_port}"
    return {
        "server": {"host": "127.0.0.1", "port": port},
        "storage": {"driver": "sqlite", "path": str(work_dir / "gateway" / "ongoingai.db")},
        "providers": {
            "openai": {"upstream": upstream, "prefix": GATEWAY_PREFIX},
            # Never used by the bench; pointed at loopback so that nothing can leave the machine.
            "anthropic": {"upstream": upstream, "prefix": "/anthropic"},
        },
        "tracing": {"capture_bodies": True},
        "logging": {"level": "info", "format": "json"},
    }


def gateway_binary() -> Path:
    return Path(sys.executable).parent / "ongoingai"


def start_gateway(work_dir: Path, upstream_port: int, cpu: int | None) -> Running:
    port = free_port()
    (work_dir / "gateway").mkdir(parents=True, exist_ok=True)
    config_path = work_dir / "gateway" / "ongoingai.yaml"
    config_path.write_text(yaml.safe_dump(gateway_config(work_dir, port, upstream_port), sort_keys=False))
    argv = [str(gateway_binary()), "serve", "--config", str(config_path)]
    process = start_server(
        "gateway",
        argv,
        port=port,
        probe_path="/api/health",
        cpu=cpu,
        log_path=work_dir / "gateway.log",
        env=_python_env(),
        timeout_s=30,
    )
    return Running(process, port, GATEWAY_PREFIX + CHAT_PATH)


STARTERS: dict[str, Starter] = {
    "ref-aiohttp": _reference("reference_proxy.py"),
    "ref-httpx": _reference("reference_proxy_httpx.py"),
    "gateway": start_gateway,
}
REFERENCE = "ref-aiohttp"
DIRECT = "direct"
ALL_TARGETS = (DIRECT, REFERENCE, "ref-httpx", "gateway")
