"""Start a server pinned to one CPU, time it until its first HTTP response, and stop it again."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


class StartupError(RuntimeError):
    """The server exited or never answered HTTP before the deadline; the message says where to look."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def answers_http(port: int, path: str) -> bool:
    """True once anything answers `GET path` with an HTTP status line (any status: we time startup only)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            return sock.recv(16).startswith(b"HTTP/1.")
    except OSError:
        return False


@dataclass
class ServerProcess:
    name: str
    process: subprocess.Popen[bytes]
    startup_s: float
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


_PR_SET_PDEATHSIG = 1


def _child_setup(cpu: int | None) -> None:
    # Die with the bench: a killed run must not leave servers behind (they run in their own session).
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


def start_server(
    name: str,
    argv: Sequence[str],
    *,
    port: int,
    probe_path: str,
    cpu: int | None,
    log_path: Path,
    env: dict[str, str] | None = None,
    timeout_s: float = 20.0,
) -> ServerProcess:
    """Spawn `argv` on `cpu` (stdout and stderr to `log_path`); startup = spawn → first HTTP response."""
    with log_path.open("wb") as log:
        started = time.perf_counter()
        # preexec_fn is safe here: the bench is single-threaded.
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=lambda: _child_setup(cpu),
        )
    deadline = started + timeout_s
    while time.perf_counter() < deadline:
        if answers_http(port, probe_path):
            return ServerProcess(name, process, time.perf_counter() - started, log_path)
        if process.poll() is not None:
            raise StartupError(
                f"{name} exited with code {process.returncode} before answering; see {log_path}"
            )
        time.sleep(0.002)
    ServerProcess(name, process, 0.0, log_path).stop()
    raise StartupError(f"{name} did not answer HTTP within {timeout_s:.0f} s; see {log_path}")
