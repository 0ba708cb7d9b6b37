"""`ongoingai diagnostics [trace-pipeline]` (config-and-cli.md §8) against real HTTP servers on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ongoingai.api import create_api
from ongoingai.cli.diagnostics import normalise_base_url, parse_timeout
from ongoingai.config import Settings
from ongoingai.sink import BatchWriter
from tests.cli.stores import as_process, help_options, in_process
from tests.fakes.servers import ServerThread, free_port, serving
from tests.fakes.trace_stores import MemoryTraceStore

PATH = "/api/diagnostics/trace-pipeline"


@pytest.fixture
def gateway() -> Iterator[ServerThread]:
    """The real API app with an (unstarted) writer: what a running gateway answers."""
    writer = BatchWriter(MemoryTraceStore(), store_driver="sqlite", queue_capacity=1024)
    app = create_api(
        Settings(),
        None,
        writer,
        datetime(2025, 6, 1, tzinfo=UTC),
        clock=lambda: datetime(2025, 6, 1, 12, tzinfo=UTC),
    )
    with serving(app) as server:
        yield server


class Scripted:
    """A stand-in gateway that answers one scripted response and records request headers."""

    def __init__(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.status, self.body, self.content_type = status, body, content_type
        self.headers: list[dict[str, str]] = []

    def app(self) -> Starlette:
        async def answer(request: Request) -> Response:
            self.headers.append(dict(request.headers))
            return Response(self.body, self.status, media_type=self.content_type)

        return Starlette(routes=[Route(PATH, answer)])


def run(*args: str) -> Any:
    return in_process(["diagnostics", *args])


def test_json_is_the_gateway_document(gateway: ServerThread) -> None:
    result = run("--base-url", gateway.url + "/?x=1#frag", "--format", "json")

    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert list(doc) == ["schema_version", "generated_at", "diagnostics"]
    assert doc["schema_version"] == "trace-pipeline-diagnostics.v1"
    assert doc["generated_at"] == "2025-06-01T12:00:00Z"
    assert doc["diagnostics"]["queue_capacity"] == 1024
    assert result.stdout.startswith('{\n  "schema_version"')


def test_text_mode_names_the_source(gateway: ServerThread) -> None:
    result = run("trace-pipeline", "--base-url", gateway.url)

    lines = result.stdout.splitlines()
    assert lines[0] == "OngoingAI Diagnostics"
    assert any(line.endswith(f"{gateway.url}{PATH}") for line in lines)
    assert any(line.startswith("Queue pressure") and line.endswith("OK") for line in lines)
    assert any(line.startswith("Capacity") and line.endswith("1024") for line in lines)


def test_the_base_url_and_header_come_from_config(tmp_path: Path) -> None:
    scripted = Scripted(200, b'{"schema_version":"v","generated_at":"t","diagnostics":{}}')
    port = free_port()
    server = ServerThread(scripted.app(), port=port)
    server.start()
    try:
        config = tmp_path / "ongoingai.yaml"
        config.write_text(
            f"server:\n  host: 127.0.0.1\n  port: {port}\nauth:\n  header: X-Team-Key\n", encoding="utf-8"
        )
        result = run("--config", str(config), "--gateway-key", "gwk_secret_1", "--format", "json")
    finally:
        server.stop()

    assert result.exit_code == 0, result.stderr
    assert scripted.headers[0]["x-team-key"] == "gwk_secret_1"
    assert scripted.headers[0]["accept"] == "application/json"


def test_auth_header_flag_wins_and_no_key_means_no_header() -> None:
    scripted = Scripted(200, b'{"schema_version":"v","diagnostics":{}}')
    with serving(scripted.app()) as server:
        keyed = run("--base-url", server.url, "--auth-header", "X-Other", "--gateway-key", "k")
        bare = run("--base-url", server.url)

    assert (keyed.exit_code, bare.exit_code) == (0, 0)
    assert scripted.headers[0]["x-other"] == "k"
    assert "x-ongoingai-gateway-key" not in scripted.headers[1]


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (
            503,
            b'{"error":"trace pipeline diagnostics unavailable"}',
            "status 503: trace pipeline diagnostics unavailable",
        ),
        (
            403,
            b"request is not authorized by gateway policy",
            "status 403: request is not authorized by gateway policy",
        ),
        (500, b"", "status 500: Internal Server Error"),
        (200, b'{"diagnostics":{}}', "missing schema_version in diagnostics response"),
        (200, b"not json", "decode response: "),
        (200, b'{"schema_version":"' + b"x" * (1 << 20) + b'"}', "response body exceeds 1 MiB"),
    ],
    ids=["503-json", "403-text", "500-empty", "no-schema", "not-json", "too-big"],
)
def test_bad_answers_exit_1(status: int, body: bytes, message: str) -> None:
    with serving(Scripted(status, body).app()) as server:
        result = run("--base-url", server.url)

    assert result.exit_code == 1
    assert result.stderr.startswith("failed to read diagnostics: " + message)


def test_an_unreachable_gateway_exits_1() -> None:
    result = run("--base-url", f"http://127.0.0.1:{free_port()}", "--timeout", "2s")

    assert result.exit_code == 1
    assert result.stderr.startswith("failed to read diagnostics: send request: ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["other"], 'unsupported diagnostics target "other": expected "trace-pipeline"'),
        (["trace-pipeline", "more"], 'diagnostics accepts at most one positional argument: "trace-pipeline"'),
        (["--format", "csv"], 'invalid diagnostics format "csv": expected text or json'),
        (["--timeout", "0s"], 'invalid diagnostics timeout "0s": must be greater than 0'),
        (["--timeout", "-1"], 'invalid diagnostics timeout "-1": must be greater than 0'),
        (["--timeout", "soon"], 'invalid diagnostics timeout "soon": expected a duration such as 5s'),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = run(*args)

    assert (result.exit_code, result.stderr) == (2, message + "\n")


@pytest.mark.parametrize(
    ("raw", "message"),
    [("ftp://host", "base URL must include http or https scheme"), ("http://", "base URL must include host")],
)
def test_bad_base_urls_exit_1(raw: str, message: str) -> None:
    result = run("--base-url", raw)

    assert (result.exit_code, result.stderr) == (1, f"failed to resolve diagnostics endpoint: {message}\n")


def test_config_errors_are_fatal_only_when_the_base_url_needs_the_config(
    tmp_path: Path, gateway: ServerThread
) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text("server: [", encoding="utf-8")

    needed = run("--config", str(config))
    not_needed = run("--config", str(config), "--base-url", gateway.url)

    assert needed.exit_code == 1
    assert needed.stderr.startswith('failed to resolve diagnostics endpoint: load config: parse yaml "')
    assert not_needed.exit_code == 0, not_needed.stderr


@pytest.mark.parametrize(
    ("raw", "seconds"), [("5s", 5.0), ("1.5s", 1.5), ("500ms", 0.5), ("1m30s", 90.0), ("2", 2.0)]
)
def test_timeouts_are_go_durations(raw: str, seconds: float) -> None:
    assert parse_timeout(raw) == seconds


def test_base_urls_drop_query_fragment_and_trailing_slash() -> None:
    assert normalise_base_url(" HTTPS://gw.example:8443/prefix/?a=1#b ") == "https://gw.example:8443/prefix"


def test_subprocess_diagnostics(gateway: ServerThread) -> None:
    done = as_process(["diagnostics", "trace-pipeline", "--base-url", gateway.url, "--format", "json"])

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["schema_version"] == "trace-pipeline-diagnostics.v1"


def test_help_lists_the_spec_flags() -> None:
    text = help_options("diagnostics")

    for flag in ["--config", "--base-url", "--gateway-key", "--auth-header", "--format", "--timeout"]:
        assert flag in text, flag
