"""The fake OpenAI upstream: nginx answering from a rendered template, one worker, pinned to the load CPU."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import fixtures
from server_process import ServerProcess, free_port, start_server

BENCH_DIR = Path(__file__).resolve().parent
TEMPLATE = BENCH_DIR / "nginx.conf.template"


def ensure_tools() -> None:
    """Install nginx and wrk with bench/setup.sh when either is missing (a fresh machine just works)."""
    if (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()) and shutil.which("wrk"):
        return
    subprocess.run([str(BENCH_DIR / "setup.sh")], check=True)


def nginx_binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def _nginx_string(text: str) -> str:
    # Inside a double-quoted nginx string `\\`, `\"` and `\n` are escapes; `$` would start a variable.
    # A quoted parameter must stay under 4 KiB, which is why the SSE body is a file instead.
    if "$" in text:
        raise ValueError("fixture bodies must not contain '$' (nginx would expand it)")
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_config(prefix: Path, port: int) -> str:
    values = {
        "PREFIX": str(prefix),
        "PORT": str(port),
        "COMPLETION_JSON": _nginx_string(fixtures.completion_json()),
    }
    config = TEMPLATE.read_text()
    for name, value in values.items():
        config = config.replace("{{" + name + "}}", value)
    return config


def start_nginx(work_dir: Path, cpu: int | None) -> tuple[ServerProcess, int]:
    prefix = work_dir / "nginx"
    prefix.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (prefix / "www" / "_bench").mkdir(parents=True, exist_ok=True)
    (prefix / "www" / "_bench" / "stream.sse").write_text(fixtures.completion_sse())
    config_path = prefix / "nginx.conf"
    config_path.write_text(render_config(prefix, port))
    argv = [nginx_binary(), "-p", str(prefix), "-c", str(config_path), "-e", "stderr"]
    server = start_server(
        "nginx", argv, port=port, probe_path="/", cpu=cpu, log_path=work_dir / "nginx.log", timeout_s=10
    )
    return server, port
