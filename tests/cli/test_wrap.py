"""`ongoingai wrap -- CMD` (config-and-cli.md §4): the child's environment and exit code, signal deaths,
commands that cannot start, and the usage message. Real child processes throughout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ongoingai.cli.shell import child_environment, exit_code
from tests.cli.stores import BINARY, as_process, help_options, in_process

USAGE = "usage: ongoingai wrap [--config path/to/ongoingai.yaml] -- <command> [args...]\n"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "ongoingai.yaml"
    path.write_text("server:\n  host: 127.0.0.1\n  port: 9191\n", encoding="utf-8")
    return path


def test_the_child_sees_both_base_urls_and_inherits_stdio(config: Path) -> None:
    script = 'import os; print(os.environ["OPENAI_BASE_URL"]); print(os.environ["ANTHROPIC_BASE_URL"])'

    done = as_process(["wrap", "--config", str(config), "--", sys.executable, "-c", script])

    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().splitlines() == [
        "http://127.0.0.1:9191/openai/v1",
        "http://127.0.0.1:9191/anthropic",
    ]


def test_the_environment_is_sorted_by_name_and_keeps_the_callers(config: Path) -> None:
    script = "import os; print(','.join(os.environ))"

    done = as_process(
        ["wrap", "--config", str(config), "--", sys.executable, "-c", script], env={"ZZ_MINE": "1"}
    )

    names = done.stdout.decode().strip().split(",")
    assert names == sorted(names)
    assert {"ZZ_MINE", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"} <= set(names)


@pytest.mark.parametrize("code", [0, 1, 3, 42, 255])
def test_the_childs_exit_code_is_ours(config: Path, code: int) -> None:
    done = as_process(
        ["wrap", "--config", str(config), "--", sys.executable, "-c", f"raise SystemExit({code})"]
    )

    assert done.returncode == code


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL, signal.SIGINT])
def test_a_signal_death_is_128_plus_the_signal(config: Path, sig: signal.Signals) -> None:
    script = (
        f"import os, signal; signal.signal(signal.SIGINT, signal.SIG_DFL); os.kill(os.getpid(), {int(sig)})"
    )

    done = as_process(["wrap", "--config", str(config), "--", sys.executable, "-c", script])

    assert done.returncode == 128 + int(sig)


def test_signals_sent_to_wrap_reach_the_child(config: Path, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    script = f"import pathlib, time; pathlib.Path({str(ready)!r}).touch(); time.sleep(30)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONGOINGAI_")}
    proc = subprocess.Popen(
        [str(BINARY), "wrap", "--config", str(config), "--", sys.executable, "-c", script], env=env
    )
    try:
        deadline = time.monotonic() + 20
        while not ready.exists():
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_command_that_cannot_start_exits_1(config: Path, tmp_path: Path) -> None:
    missing = as_process(["wrap", "--config", str(config), "--", str(tmp_path / "no-such-program")])
    not_executable = tmp_path / "data.txt"
    not_executable.write_text("x")
    denied = as_process(["wrap", "--config", str(config), "--", str(not_executable)])

    for done in (missing, denied):
        assert done.returncode == 1
        assert done.stderr.decode().startswith("failed to start command: ")


def test_no_command_is_a_usage_error(config: Path) -> None:
    bare = in_process(["wrap", "--config", str(config)])
    dashes = in_process(["wrap", "--config", str(config), "--"])

    for result in (bare, dashes):
        assert (result.exit_code, result.stderr) == (2, USAGE)


def test_the_command_may_follow_without_dashes_and_keeps_its_own_flags(config: Path) -> None:
    done = as_process(
        [
            "wrap",
            "--config",
            str(config),
            sys.executable,
            "-c",
            "import sys; print(sys.argv[1:])",
            "--config",
            "x",
        ]
    )

    assert done.stdout.decode().strip() == "['--config', 'x']"


def test_a_config_load_error_exits_1(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("server: [", encoding="utf-8")

    result = in_process(["wrap", "--config", str(config), "--", "true"])

    assert result.exit_code == 1 and result.stderr.startswith("failed to load config: ")


def test_in_process_exit_codes(config: Path) -> None:
    assert (
        in_process(
            ["wrap", "--config", str(config), "--", sys.executable, "-c", "raise SystemExit(5)"]
        ).exit_code
        == 5
    )


@pytest.mark.parametrize(("returncode", "code"), [(0, 0), (7, 7), (-15, 143), (-9, 137)])
def test_exit_code_mapping(returncode: int, code: int) -> None:
    assert exit_code(returncode) == code


def test_child_environment_overrides_and_sorts() -> None:
    merged = child_environment({"B": "1", "OPENAI_BASE_URL": "old"}, {"OPENAI_BASE_URL": "new", "A": "2"})

    assert list(merged.items()) == [("A", "2"), ("B", "1"), ("OPENAI_BASE_URL", "new")]


def test_help_lists_the_spec_flags() -> None:
    text = help_options("wrap")

    for flag in ["--config"]:
        assert flag in text, flag
