"""The systems under test: how to start each one and which URL path reaches the fake upstream through it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

import fixtures
from server_process import ServerProcess, StartupError, free_port, start_server

BENCH_DIR = Path(__file__).resolve().parent
CHAT_PATH = "/v1/chat/completions"
GATEWAY_PREFIX = "/openai"
# granian is not a project dependency: the server comparison installs it into a scratch venv, never .venv.
GRANIAN_VENV = Path(os.environ.get("BENCH_GRANIAN_VENV", "/tmp/ongoingai-bench-granian"))
GRANIAN_PACKAGES = ("granian[uvloop]", "aiohttp")


@dataclass(frozen=True, slots=True)
class Running:
    """A started target: `process` is None for `direct`, whose server is the fake upstream itself.

    `headers` go with every request besides the provider Authorization (the gateway key of `gateway-auth`).
    """

    process: ServerProcess | None
    port: int
    path: str
    headers: tuple[tuple[str, str], ...] = ()


Starter = Callable[[Path, int, int | None], Running]


def _python_env(work_dir: Path) -> dict[str, str]:
    # The project's ONGOINGAI_* overrides would beat the generated YAML; the bench config must win.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONGOINGAI_")}
    # Startup is measured with compiled bytecode, as an installed service has it. `uv sync` compiles none and
    # PYTHONDONTWRITEBYTECODE may be set, so the bench keeps its own cache under bench/results.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env | {"PYTHONUNBUFFERED": "1", "PYTHONPYCACHEPREFIX": str(work_dir.parent / "pycache")}


def _reference(name: str, script: str, *extra: str) -> Starter:
    def start(work_dir: Path, upstream_port: int, cpu: int | None) -> Running:
        port = free_port()
        upstream = f"http://127.0.0.1:{upstream_port}"
        argv = [sys.executable, str(BENCH_DIR / script), str(port), upstream, *extra]
        log = work_dir / f"{name}.log"
        env = _python_env(work_dir)
        process = start_server(name, argv, port=port, probe_path="/", cpu=cpu, log_path=log, env=env)
        return Running(process, port, CHAT_PATH)

    return start


def _asgi(name: str, server_argv: Callable[[int], list[str]]) -> Starter:
    def start(work_dir: Path, upstream_port: int, cpu: int | None) -> Running:
        port = free_port()
        env = _python_env(work_dir) | {"BENCH_UPSTREAM": f"http://127.0.0.1:{upstream_port}"}
        log = work_dir / f"{name}.log"
        argv = server_argv(port)
        process = start_server(name, argv, port=port, probe_path="/", cpu=cpu, log_path=log, env=env)
        return Running(process, port, CHAT_PATH)

    return start


def _uvicorn_argv(port: int) -> list[str]:
    # The gateway's own uvicorn settings (cli/serve.py): uvloop, httptools, no access log, no Server/Date.
    return [
        *(sys.executable, "-m", "uvicorn", "--app-dir", str(BENCH_DIR), "reference_asgi:app"),
        *("--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--http", "httptools"),
        *("--lifespan", "on", "--no-access-log", "--log-level", "warning"),
        *("--no-server-header", "--no-date-header"),
    ]


def ensure_granian_venv() -> Path:
    granian = GRANIAN_VENV / "bin" / "granian"
    if not granian.exists():
        base_python = getattr(sys, "_base_executable", sys.executable)
        try:
            subprocess.run([base_python, "-m", "venv", str(GRANIAN_VENV)], check=True, timeout=300)
            pip = [str(GRANIAN_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", *GRANIAN_PACKAGES]
            subprocess.run(pip, check=True, timeout=600)
        except (OSError, subprocess.SubprocessError) as exc:
            raise StartupError(f"could not install granian into {GRANIAN_VENV}: {exc}") from exc
    return granian


def _granian_argv(port: int) -> list[str]:
    return [
        *(str(ensure_granian_venv()), "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port)),
        *("--workers", "1", "--runtime-threads", "1", "--loop", "uvloop", "--no-ws", "--no-access-log"),
        *("--log-level", "warning", "--working-dir", str(BENCH_DIR), "reference_asgi:app"),
    ]


GATEWAY = "gateway"
GATEWAY_AUTH = "gateway-auth"


def gateway_config(
    work_dir: Path, port: int, upstream_port: int, *, name: str = GATEWAY, auth: bool = False
) -> dict[str, object]:
    """The generated `ongoingai.yaml`; with `auth`, one config-declared developer key (`proxy:write`)."""
    upstream = f"http://127.0.0.1:{upstream_port}"
    config: dict[str, object] = {
        "server": {"host": "127.0.0.1", "port": port},
        "storage": {"driver": "sqlite", "path": str(work_dir / name / "ongoingai.db")},
        "providers": {
            "openai": {"upstream": upstream, "prefix": GATEWAY_PREFIX},
            # Never used by the bench; pointed at loopback so that nothing can leave the machine.
            "anthropic": {"upstream": upstream, "prefix": "/anthropic"},
        },
        "tracing": {"capture_bodies": True},
        "logging": {"level": "info", "format": "json"},
    }
    if auth:
        key = {
            "id": "bench",
            "token": fixtures.GATEWAY_TOKEN,
            "org_id": "bench",
            "workspace_id": "bench",
            "role": "developer",
        }
        config["auth"] = {"enabled": True, "header": fixtures.GATEWAY_KEY_HEADER, "keys": [key]}
    return config


def gateway_binary() -> Path:
    return Path(sys.executable).parent / "ongoingai"


def _gateway(name: str, *, auth: bool) -> Starter:
    """`ongoingai serve` with its own config, SQLite file and log under `<run dir>/<name>`."""

    def start(work_dir: Path, upstream_port: int, cpu: int | None) -> Running:
        port = free_port()
        (work_dir / name).mkdir(parents=True, exist_ok=True)
        config_path = work_dir / name / "ongoingai.yaml"
        config = gateway_config(work_dir, port, upstream_port, name=name, auth=auth)
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        argv = [str(gateway_binary()), "serve", "--config", str(config_path)]
        process = start_server(
            name,
            argv,
            port=port,
            probe_path="/api/health",
            cpu=cpu,
            log_path=work_dir / f"{name}.log",
            env=_python_env(work_dir),
            timeout_s=30,
        )
        headers = ((fixtures.GATEWAY_KEY_HEADER, fixtures.GATEWAY_TOKEN),) if auth else ()
        return Running(process, port, GATEWAY_PREFIX + CHAT_PATH, headers)

    return start


start_gateway = _gateway(GATEWAY, auth=False)
start_gateway_auth = _gateway(GATEWAY_AUTH, auth=True)
GATEWAYS = (GATEWAY, GATEWAY_AUTH)  # targets that keep a SQLite file under `<run dir>/<name>`


STARTERS: dict[str, Starter] = {
    "ref-aiohttp": _reference("ref-aiohttp", "reference_proxy.py"),
    "ref-httpx": _reference("ref-httpx", "reference_proxy_httpx.py"),
    "ref-httpx2": _reference("ref-httpx2", "reference_proxy_httpx.py", "httpx2"),
    "asgi-uvicorn": _asgi("asgi-uvicorn", _uvicorn_argv),
    "asgi-granian": _asgi("asgi-granian", _granian_argv),
    GATEWAY: start_gateway,
    GATEWAY_AUTH: start_gateway_auth,
}
DIRECT = "direct"
ALL_TARGETS = (DIRECT, *STARTERS)
DEFAULT_TARGETS = (DIRECT, "ref-aiohttp", "ref-httpx", "gateway")
