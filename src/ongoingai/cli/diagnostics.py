"""`ongoingai diagnostics [trace-pipeline]`: a running gateway's trace pipeline (config-and-cli.md §8).

Base URL: `--base-url` (http/https with a host; query and fragment dropped; trailing `/` trimmed), else
derived from config, else `http://localhost:8080`. Config errors are fatal only when the base URL had to
come from config. `GET <base>/api/diagnostics/trace-pipeline` with `Accept: application/json` and the
gateway key header when `--gateway-key` is given; the answer must be 200, at most 1 MiB, with a
`schema_version`.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
import typer

from ongoingai.cli.base_url import gateway_base_url
from ongoingai.cli.documents import dump_document
from ongoingai.cli.options import OutputFormat, parse_format
from ongoingai.cli.output import fail, usage_error
from ongoingai.config import ConfigInvalidError, ConfigLoadError, load_settings, validate_settings

TARGET = "trace-pipeline"
DEFAULT_BASE_URL = "http://localhost:8080"
DEFAULT_AUTH_HEADER = "X-OngoingAI-Gateway-Key"
MAX_BODY_BYTES = 1 << 20
_DURATION = re.compile(r"^(?:(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class DiagnosticsError(Exception):
    """Why the diagnostics could not be read; printed after `failed to read diagnostics: `."""


def parse_timeout(raw: str) -> float:
    """Go-style durations (`5s`, `1.5s`, `500ms`, `1m30s`) or plain seconds; must be > 0 (else exit 2)."""
    text = raw.strip()
    try:
        seconds = float(text)
    except ValueError:
        if not _DURATION.match(text):
            usage_error(f'invalid diagnostics timeout "{raw}": expected a duration such as 5s')
        parts = re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)", text)
        seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)
    if not seconds > 0:
        usage_error(f'invalid diagnostics timeout "{raw}": must be greater than 0')
    return seconds


def normalise_base_url(raw: str) -> str:
    """Raises `DiagnosticsError` unless `raw` is an http(s) URL with a host."""
    parts = urlsplit(raw.strip())
    if parts.scheme.lower() not in ("http", "https"):
        raise DiagnosticsError("base URL must include http or https scheme")
    if not parts.netloc:
        raise DiagnosticsError("base URL must include host")
    return urlunsplit((parts.scheme.lower(), parts.netloc, parts.path.rstrip("/"), "", ""))


@dataclass(frozen=True, slots=True)
class Endpoint:
    base_url: str
    auth_header: str


def resolve_endpoint(config_path: str, base_url: str, auth_header: str) -> Endpoint:
    """Flags first, then config, then defaults. Raises `DiagnosticsError` (config only when it was needed)."""
    base, header = base_url.strip(), auth_header.strip()
    if not base or not header:
        try:
            settings = load_settings(config_path)
            validate_settings(settings)
        except ConfigLoadError as exc:
            if not base:
                raise DiagnosticsError(f"load config: {exc}") from exc
        except ConfigInvalidError as exc:
            if not base:
                raise DiagnosticsError(f"config validation failed: {exc}") from exc
        else:
            base = base or gateway_base_url(settings)
            header = header or settings.auth.header.strip()
    return Endpoint(normalise_base_url(base or DEFAULT_BASE_URL), header or DEFAULT_AUTH_HEADER)


def _error_message(status: int, body: bytes, reason: str) -> str:
    message = body.decode("utf-8", "replace").strip()
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        decoded = None
    if isinstance(decoded, dict) and isinstance(decoded.get("error"), str) and decoded["error"].strip():
        message = decoded["error"].strip()
    return f"status {status}: {message or reason}"


def _read(response: Any) -> bytes:
    body: bytes = response.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise DiagnosticsError("response body exceeds 1 MiB")
    return body


def fetch_diagnostics(endpoint: Endpoint, gateway_key: str, timeout: float) -> dict[str, Any]:
    """The gateway's document: `schema_version`, `generated_at`, `diagnostics` (raises `DiagnosticsError`)."""
    url = endpoint.base_url + "/api/diagnostics/trace-pipeline"
    headers = {"Accept": "application/json"}
    if gateway_key:
        headers[endpoint.auth_header] = gateway_key
    request = urllib.request.Request(url, headers=headers, method="GET")  # noqa: S310 - http(s) checked above
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status, body = response.status, _read(response)
    except urllib.error.HTTPError as exc:
        raise DiagnosticsError(_error_message(exc.code, _read(exc), exc.reason)) from exc
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DiagnosticsError(f"send request: {reason}") from exc
    if status != 200:
        raise DiagnosticsError(_error_message(status, body, "unexpected status"))
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise DiagnosticsError(f"decode response: {exc}") from exc
    if not isinstance(document, dict) or not str(document.get("schema_version") or "").strip():
        raise DiagnosticsError("missing schema_version in diagnostics response")
    return {
        "schema_version": document["schema_version"],
        "generated_at": document.get("generated_at"),
        "diagnostics": document.get("diagnostics") or {},
    }


def render_diagnostics_text(document: dict[str, Any], base_url: str) -> str:
    d = document["diagnostics"]

    def value(name: str) -> str:
        return str(d.get(name, "(none)"))

    lines = [
        "OngoingAI Diagnostics",
        f"Schema version           {document['schema_version']}",
        f"Generated at             {document.get('generated_at') or '(none)'}",
        f"Source                   {base_url}/api/diagnostics/trace-pipeline",
        f"Queue pressure           {value('queue_pressure_state').upper()}",
        f"High watermark pressure  {value('queue_high_watermark_pressure_state').upper()}",
        "",
        "Queue",
    ]
    queue = (
        ("Capacity", "queue_capacity"),
        ("Depth", "queue_depth"),
        ("Depth high watermark", "queue_depth_high_watermark"),
        ("Utilization (pct)", "queue_utilization_pct"),
        ("High watermark utilization (pct)", "queue_high_watermark_utilization_pct"),
        ("Enqueue accepted total", "enqueue_accepted_total"),
    )
    lines += [f"{label:<34}{value(name)}" for label, name in queue]
    lines += ["", "Drops"]
    drops = (
        ("Enqueue dropped total", "enqueue_dropped_total"),
        ("Write dropped total", "write_dropped_total"),
        ("Total dropped", "total_dropped_total"),
        ("Last enqueue drop at", "last_enqueue_drop_at"),
        ("Last write drop at", "last_write_drop_at"),
        ("Last write drop operation", "last_write_drop_operation"),
    )
    lines += [f"{label:<34}{value(name)}" for label, name in drops]
    extra = sorted(k for k in d if k.startswith(("spill", "replayed", "audit")))
    if extra:
        lines += ["", "Spill journal"] + [f"{name:<34}{d[name]}" for name in extra]
    return "\n".join(lines)


def run_diagnostics(
    args: list[str], config: str, base_url: str, gateway_key: str, auth_header: str, output: str, timeout: str
) -> None:
    """Validate (exit 2), resolve the endpoint and fetch (exit 1 on failure), print."""
    if len(args) > 1:
        usage_error(f'diagnostics accepts at most one positional argument: "{TARGET}"')
    target = args[0].strip() if args else TARGET
    if target != TARGET:
        usage_error(f'unsupported diagnostics target "{target}": expected "{TARGET}"')
    fmt = parse_format("diagnostics", output)
    seconds = parse_timeout(timeout)
    try:
        endpoint = resolve_endpoint(config, base_url, auth_header)
    except DiagnosticsError as exc:
        fail(f"failed to resolve diagnostics endpoint: {exc}")
    try:
        document = fetch_diagnostics(endpoint, gateway_key.strip(), seconds)
    except DiagnosticsError as exc:
        fail(f"failed to read diagnostics: {exc}")
    if fmt is OutputFormat.JSON:
        typer.echo(dump_document(document).decode(), nl=False)
    else:
        typer.echo(render_diagnostics_text(document, endpoint.base_url))
