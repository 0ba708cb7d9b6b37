"""`ongoingai shell-init`, and the base-URL rules it shares with `wrap` and `diagnostics` (§4)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ongoingai.cli.base_url import anthropic_base_url, gateway_base_url, openai_base_url
from ongoingai.config import Settings
from tests.cli.stores import as_process, help_options, in_process


def settings(
    host: str = "0.0.0.0", port: int = 8080, openai: str = "/openai", anthropic: str = "/anthropic"
) -> Settings:
    return Settings(
        server={"host": host, "port": port},
        providers={"openai": {"prefix": openai}, "anthropic": {"prefix": anthropic}},
    )


@pytest.mark.parametrize(
    ("host", "base"),
    [
        ("", "http://localhost:8080"),
        ("0.0.0.0", "http://localhost:8080"),
        ("::", "http://localhost:8080"),
        ("[::]", "http://localhost:8080"),
        ("127.0.0.1", "http://127.0.0.1:8080"),
        ("::1", "http://[::1]:8080"),
        ("[::1]", "http://[::1]:8080"),
        ("fe80::1", "http://[fe80::1]:8080"),
        ("gw.internal", "http://gw.internal:8080"),
    ],
)
def test_listen_addresses_become_dialable_hosts(host: str, base: str) -> None:
    assert gateway_base_url(settings(host)) == base


@pytest.mark.parametrize(
    ("openai", "anthropic", "urls"),
    [
        ("/openai", "/anthropic", ("http://localhost:8080/openai/v1", "http://localhost:8080/anthropic")),
        (
            "/gateway/openai",
            "anthropic-api",
            ("http://localhost:8080/gateway/openai/v1", "http://localhost:8080/anthropic-api"),
        ),
        ("/openai/v1/", " /claude/ ", ("http://localhost:8080/openai/v1", "http://localhost:8080/claude")),
    ],
    ids=["defaults", "spec-example-prefixes", "already-v1-and-untrimmed"],
)
def test_provider_urls(openai: str, anthropic: str, urls: tuple[str, str]) -> None:
    s = settings(openai=openai, anthropic=anthropic)
    assert (openai_base_url(s), anthropic_base_url(s)) == urls


def test_the_spec_example(tmp_path: Path) -> None:
    config = tmp_path / "ongoingai.yaml"
    config.write_text(
        "server:\n  host: 127.0.0.1\n  port: 9090\n"
        "providers:\n  openai:\n    prefix: /gateway/openai\n  anthropic:\n    prefix: anthropic-api\n",
        encoding="utf-8",
    )

    result = in_process(["shell-init", "--config", str(config)])

    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (
        "export OPENAI_BASE_URL=http://127.0.0.1:9090/gateway/openai/v1\n"
        "export ANTHROPIC_BASE_URL=http://127.0.0.1:9090/anthropic-api\n"
    )


def test_defaults_without_a_config_file(tmp_path: Path) -> None:
    result = in_process(["shell-init", "--config", str(tmp_path / "absent.yaml")])

    assert result.stdout == (
        "export OPENAI_BASE_URL=http://localhost:8080/openai/v1\nexport ANTHROPIC_BASE_URL=http://localhost:8080/anthropic\n"
    )


def test_ipv6_urls_are_quoted_for_the_shell(tmp_path: Path) -> None:
    config = tmp_path / "ongoingai.yaml"
    config.write_text("server:\n  host: '::1'\n", encoding="utf-8")

    result = in_process(["shell-init", "--config", str(config)])

    assert "export OPENAI_BASE_URL='http://[::1]:8080/openai/v1'\n" in result.stdout


def test_the_config_is_loaded_not_validated(tmp_path: Path) -> None:
    config = tmp_path / "ongoingai.yaml"
    config.write_text("server:\n  port: 0\n", encoding="utf-8")  # invalid, but loadable

    assert in_process(["shell-init", "--config", str(config)]).exit_code == 0


def test_load_errors_exit_1_and_positionals_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "ongoingai.yaml"
    config.write_text("nope: 1\n", encoding="utf-8")

    broken = in_process(["shell-init", "--config", str(config)])
    positional = in_process(["shell-init", "bash"])

    assert broken.exit_code == 1 and broken.stderr.startswith("failed to load config: ")
    assert (positional.exit_code, positional.stderr) == (
        2,
        "shell-init does not accept positional arguments\n",
    )


def test_subprocess_output_evaluates_in_a_shell(tmp_path: Path) -> None:
    config = tmp_path / "ongoingai.yaml"
    config.write_text("server:\n  host: '::1'\n  port: 7000\n", encoding="utf-8")
    done = as_process(["shell-init", "--config", str(config)])

    shell = subprocess.run(
        ["sh", "-c", done.stdout.decode() + 'printf "%s %s" "$OPENAI_BASE_URL" "$ANTHROPIC_BASE_URL"'],
        capture_output=True,
        check=True,
    )

    assert shell.stdout == b"http://[::1]:7000/openai/v1 http://[::1]:7000/anthropic"


def test_help_lists_the_spec_flags() -> None:
    text = help_options("shell-init")

    for flag in ["--config"]:
        assert flag in text, flag


def test_version_and_shell_init_do_not_load_the_store_query_or_api(tmp_path: Path) -> None:
    # The read-side commands import their implementations on use (cli/read_commands.py).
    code = (
        "import sys\n"
        "from ongoingai.cli.main import main\n"
        "for args in (['version'], ['shell-init', '--config', 'absent.yaml']):\n"
        "    sys.argv = ['ongoingai', *args]\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = ('sqlalchemy', 'ongoingai.store', 'ongoingai.query', 'ongoingai.api', 'rich')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )

    assert done.stdout.splitlines()[-1] == "[]", done.stderr
