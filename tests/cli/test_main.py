"""The `ongoingai` CLI (config-and-cli.md §3–4, DEVIATIONS.md CLI rules): exit codes, messages, streams, help.

Most cases run in-process through Typer's CliRunner against `create_cli(run_server=FakeServer())`, so `serve`
never starts a real gateway; the last block runs the installed console script in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

import ongoingai
from ongoingai.cli.loading import INVALID, load_config
from ongoingai.cli.main import create_cli, version_line
from ongoingai.cli.options import FormatOption, OutputFormat, parse_format
from ongoingai.config import Settings

DEV_VERSION = "0.1.0 (none, unknown)"
VALID = "server:\n  port: 9090\n"
INVALID_PORT = "server:\n  port: 0\n"
UNKNOWN_KEY = "server:\n  bogus: 1\n"


@dataclass
class FakeServer:
    """Stands in for `cli.serve.run_serve`: records what `serve` was given and returns a set exit code."""

    exit_code: int = 0
    calls: list[tuple[Settings, str]] = field(default_factory=list)

    def __call__(self, settings: Settings, config_path: str) -> int:
        self.calls.append((settings, config_path))
        return self.exit_code


def run(args: list[str], server: FakeServer | None = None, env: dict[str, str] | None = None) -> Result:
    app = create_cli(run_server=server or FakeServer())
    return CliRunner().invoke(app, args, env=env, prog_name="ongoingai")


def write(tmp_path: Path, text: str, name: str = "ongoingai.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from an empty directory, so the default `ongoingai.yaml` is the test's own."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- serve and no arguments ---


def test_no_arguments_serves_with_the_default_config(in_tmp: Path) -> None:
    write(in_tmp, VALID)
    server = FakeServer()
    result = run([], server)
    assert result.exit_code == 0
    [(settings, path)] = server.calls
    assert (settings.server.port, path) == (9090, "ongoingai.yaml")


def test_no_arguments_reports_an_invalid_default_config(in_tmp: Path) -> None:
    write(in_tmp, INVALID_PORT)
    server = FakeServer()
    result = run([], server)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == "config is invalid: server.port must be between 1 and 65535 (got 0)\n"
    assert server.calls == []


@pytest.mark.parametrize("exit_code", [0, 1, 3])
def test_serve_exits_with_the_servers_code(tmp_path: Path, exit_code: int) -> None:
    config = write(tmp_path, VALID)
    server = FakeServer(exit_code=exit_code)
    result = run(["serve", "--config", config], server)
    assert result.exit_code == exit_code
    [(settings, path)] = server.calls
    assert (settings.server.port, path) == (9090, config)


def test_serve_with_a_missing_file_uses_defaults(in_tmp: Path) -> None:
    server = FakeServer()
    assert run(["serve"], server).exit_code == 0
    assert server.calls == [(Settings(), "ongoingai.yaml")]


def test_serve_reports_a_load_failure(tmp_path: Path) -> None:
    config = write(tmp_path, UNKNOWN_KEY)
    server = FakeServer()
    result = run(["serve", "--config", config], server)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f'failed to load config: parse yaml "{config}": unknown key server.bogus\n'
    assert server.calls == []


def test_serve_reports_an_env_load_failure(in_tmp: Path) -> None:
    result = run(["serve"], env={"ONGOINGAI_PORT": "eighty"})
    assert result.exit_code == 1
    assert (
        result.stderr
        == 'failed to load config: invalid ONGOINGAI_PORT: expected a base-10 integer (got "eighty")\n'
    )


def test_serve_reports_an_invalid_config(tmp_path: Path) -> None:
    config = write(tmp_path, "storage:\n  driver: postgres\n")
    result = run(["serve", "--config", config])
    assert result.exit_code == 1
    assert result.stderr == "config is invalid: storage.dsn is required when storage.driver=postgres\n"


def test_serve_applies_env_overrides(in_tmp: Path) -> None:
    server = FakeServer()
    assert run(["serve"], server, env={"ONGOINGAI_PORT": "7070"}).exit_code == 0
    assert server.calls[0][0].server.port == 7070


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--config", "{path}"],
        ["serve", "--config={path}"],
        ["serve", "-config", "{path}"],
        ["serve", "-config={path}"],
    ],
    ids=["--config v", "--config=v", "-config v", "-config=v"],
)
def test_config_flag_spellings(tmp_path: Path, args: list[str]) -> None:
    config = write(tmp_path, VALID)
    server = FakeServer()
    assert run([a.format(path=config) for a in args], server).exit_code == 0
    assert server.calls[0][1] == config


# --- version ---


@pytest.mark.parametrize("args", [["version"], ["--version"], ["-v"], ["version", "--config", "x.yaml"]])
def test_version(args: list[str]) -> None:
    server = FakeServer()
    result = run(args, server)
    assert (result.exit_code, result.stdout, result.stderr) == (0, DEV_VERSION + "\n", "")
    assert server.calls == []


def test_version_line_comes_from_the_build_stamp() -> None:
    assert version_line() == f"{ongoingai.__version__} ({ongoingai.COMMIT}, {ongoingai.BUILD_DATE})"


# --- config validate ---


def test_config_validate_valid(tmp_path: Path) -> None:
    config = write(tmp_path, VALID)
    result = run(["config", "validate", "--config", config])
    assert (result.exit_code, result.stdout, result.stderr) == (0, f"config is valid: {config}\n", "")


def test_config_validate_defaults_to_ongoingai_yaml(in_tmp: Path) -> None:
    result = run(["config", "validate"])
    assert (result.exit_code, result.stdout) == (0, "config is valid: ongoingai.yaml\n")


def test_config_validate_invalid(tmp_path: Path) -> None:
    config = write(tmp_path, INVALID_PORT)
    result = run(["config", "validate", "--config", config])
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == "config is invalid: server.port must be between 1 and 65535 (got 0)\n"


def test_config_validate_reports_load_errors_as_invalid(tmp_path: Path) -> None:
    config = write(tmp_path, UNKNOWN_KEY)
    result = run(["config", "validate", "-config", config])
    assert result.exit_code == 1
    assert result.stderr == f'config is invalid: parse yaml "{config}": unknown key server.bogus\n'


def test_config_validate_reports_env_errors_as_invalid(in_tmp: Path) -> None:
    result = run(["config", "validate"], env={"OTEL_TRACES_EXPORTER": "zipkin"})
    assert result.exit_code == 1
    assert (
        result.stderr
        == 'config is invalid: invalid OTEL_TRACES_EXPORTER: must be one of otlp, none (got "zipkin")\n'
    )


@pytest.mark.parametrize(
    "args",
    [
        ["extra"],
        ["a", "b"],
        ["extra", "--config", "{path}"],
        ["--config", "{path}", "extra"],
        ["--", "--config"],
        ["extra", "--bogus"],
    ],
    ids=["one", "two", "before-flag", "after-flag", "after-double-dash", "parsing-stops-at-positional"],
)
def test_config_validate_rejects_positional_arguments(tmp_path: Path, args: list[str]) -> None:
    config = write(tmp_path, VALID)
    result = run(["config", "validate", *(a.format(path=config) for a in args)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == "config validate does not accept positional arguments\n"


# --- usage errors: exit 2, usage on stderr ---


def test_config_without_subcommand_prints_usage_to_stderr() -> None:
    result = run(["config"])
    assert (result.exit_code, result.stdout) == (2, "")
    assert "Usage: ongoingai config" in result.stderr
    assert "validate" in result.stderr


def test_config_with_unknown_subcommand() -> None:
    result = run(["config", "show"])
    assert (result.exit_code, result.stdout) == (2, "")
    assert "Usage: ongoingai config" in result.stderr
    assert "No such command 'show'" in result.stderr


def test_unknown_subcommand() -> None:
    server = FakeServer()
    result = run(["start"], server)
    assert (result.exit_code, result.stdout) == (2, "")
    assert "Usage: ongoingai" in result.stderr
    assert "No such command 'start'" in result.stderr
    assert server.calls == []


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--bogus"],
        ["serve", "--config"],
        ["serve", "extra"],
        ["config", "validate", "--bogus"],
        ["config", "validate", "--config"],
        ["--config", "x.yaml"],
        ["--bogus"],
        ["version", "--bogus"],
        ["-help"],
    ],
    ids=lambda a: " ".join(a),
)
def test_flag_parse_errors_exit_2(args: list[str]) -> None:
    server = FakeServer()
    result = run(args, server)
    assert (result.exit_code, result.stdout) == (2, "")
    assert "Error: " in result.stderr
    assert server.calls == []


# --- help: exit 0 (DEVIATIONS.md), and each command lists the spec's flags ---

SPEC_FLAGS: dict[str, list[str]] = {
    "": ["--version", "-v", "--help", "serve", "version", "config"],
    "serve": ["--config"],
    "version": [],
    "config": ["validate"],
    "config validate": ["--config"],
}


@pytest.mark.parametrize("command", SPEC_FLAGS, ids=lambda c: c or "ongoingai")
@pytest.mark.parametrize("help_flag", ["--help", "-h"])
def test_help_exits_0_and_lists_the_spec_flags(command: str, help_flag: str) -> None:
    server = FakeServer()
    result = run([*command.split(), help_flag], server)
    assert (result.exit_code, result.stderr) == (0, "")
    assert f"Usage: ongoingai {command}".rstrip() in result.stdout
    for flag in SPEC_FLAGS[command]:
        assert flag in result.stdout
    assert server.calls == []


# --- shared helpers ---


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("text", OutputFormat.TEXT),
        ("TEXT", OutputFormat.TEXT),
        ("json", OutputFormat.JSON),
        ("Json", OutputFormat.JSON),
        (" json ", OutputFormat.JSON),
        ("", OutputFormat.TEXT),
    ],
)
def test_parse_format_is_trimmed_and_case_insensitive(raw: str, expected: OutputFormat) -> None:
    assert parse_format("report", raw) is expected


@pytest.mark.parametrize("raw", ["xml", "jsonl", " Yaml ", "text,json"])
def test_parse_format_rejects_others_as_usage_errors(raw: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as info:
        parse_format("debug", raw)
    assert info.value.exit_code == 2
    assert capsys.readouterr().err == f'invalid debug format "{raw}": expected text or json\n'


def format_app() -> typer.Typer:
    """A later command's shape (`report --format`), to check that the option and its check compose."""
    app = typer.Typer(add_completion=False, rich_markup_mode=None)

    @app.command()
    def report(output_format: FormatOption = "text") -> None:
        typer.echo(parse_format("report", output_format).value)

    return app


@pytest.mark.parametrize(
    ("args", "code", "stdout", "stderr"),
    [
        ([], 0, "text\n", ""),
        (["--format", "JSON"], 0, "json\n", ""),
        (["-format=text"], 0, "text\n", ""),
        (["--format", "csv"], 2, "", 'invalid report format "csv": expected text or json\n'),
    ],
)
def test_format_option(args: list[str], code: int, stdout: str, stderr: str) -> None:
    result = CliRunner().invoke(format_app(), args)
    assert (result.exit_code, result.stdout, result.stderr) == (code, stdout, stderr)


def test_load_config_without_validation_returns_an_invalid_config(tmp_path: Path) -> None:
    settings = load_config(write(tmp_path, INVALID_PORT), validate=False)
    assert settings.server.port == 0


@pytest.mark.parametrize(
    ("text", "prefix", "expected"),
    [
        (UNKNOWN_KEY, None, "failed to load config: parse yaml"),
        (UNKNOWN_KEY, INVALID, "config is invalid: parse yaml"),
        (INVALID_PORT, None, "config is invalid: server.port"),
    ],
)
def test_load_config_failures_exit_1(
    tmp_path: Path, text: str, prefix: str | None, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path, text)
    with pytest.raises(typer.Exit) as info:
        if prefix is None:
            load_config(config)
        else:
            load_config(config, load_failed_prefix=prefix)
    assert info.value.exit_code == 1
    assert capsys.readouterr().err.startswith(expected)


# --- the installed console script ---

SCRIPT = Path(sys.executable).with_name("ongoingai")


def run_script(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ONGOINGAI_", "OTEL_"))}
    return subprocess.run(
        [str(SCRIPT), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.skipif(not SCRIPT.exists(), reason="console script not installed in this environment")
class TestConsoleScript:
    def test_version(self, tmp_path: Path) -> None:
        done = run_script("-v", cwd=tmp_path)
        assert (done.returncode, done.stdout, done.stderr) == (0, DEV_VERSION + "\n", "")

    def test_config_validate(self, tmp_path: Path) -> None:
        write(tmp_path, VALID)
        done = run_script("config", "validate", cwd=tmp_path)
        assert (done.returncode, done.stdout) == (0, "config is valid: ongoingai.yaml\n")
        write(tmp_path, INVALID_PORT, name="bad.yaml")
        done = run_script("config", "validate", "--config", "bad.yaml", cwd=tmp_path)
        assert (done.returncode, done.stderr) == (
            1,
            "config is invalid: server.port must be between 1 and 65535 (got 0)\n",
        )
        done = run_script("config", "validate", "extra", cwd=tmp_path)
        assert (done.returncode, done.stderr) == (2, "config validate does not accept positional arguments\n")

    def test_usage_errors(self, tmp_path: Path) -> None:
        for args in (["bogus"], ["config"]):
            done = run_script(*args, cwd=tmp_path)
            assert (done.returncode, done.stdout) == (2, "")
            assert "Usage: ongoingai" in done.stderr

    def test_no_arguments_serves_and_stops_on_an_invalid_config(self, tmp_path: Path) -> None:
        write(tmp_path, "storage:\n  driver: mysql\n")
        done = run_script(cwd=tmp_path)
        assert (done.returncode, done.stdout) == (1, "")
        assert (
            done.stderr == 'config is invalid: storage.driver must be one of sqlite, postgres (got "mysql")\n'
        )

    def test_version_and_validate_do_not_load_the_server_stack(self, tmp_path: Path) -> None:
        # `serve` imports the gateway lazily: the other commands stay fast and work even if it cannot import.
        code = (
            "import sys\n"
            "from ongoingai.cli.main import main\n"
            "for args in (['version'], ['config', 'validate']):\n"
            "    sys.argv = ['ongoingai', *args]\n"
            "    try:\n"
            "        main()\n"
            "    except SystemExit:\n"
            "        pass\n"
            "server_stack = ('ongoingai.app', 'ongoingai.cli.serve', 'uvicorn')\n"
            "print(sorted(m for m in server_stack if m in sys.modules))\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.stdout.splitlines()[-1] == "[]"
