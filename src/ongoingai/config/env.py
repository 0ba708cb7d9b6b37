"""Env overrides: the spec's explicit table of `ONGOINGAI_*` and `OTEL_*` variables → config keys.

Rules (config-and-cli.md §1–2, DEVIATIONS.md new keys): a variable counts only when non-empty;
`OTEL_*` and `ONGOINGAI_PROMETHEUS_*` are trimmed first, the others are taken verbatim; bools are Go's
`strconv.ParseBool` forms, ints base-10, floats decimal. Variables are read in the original's order,
so with several bad values the same one is reported first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ongoingai.config.errors import ConfigLoadError

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INT64 = 1 << 63


def parse_bool(var: str, raw: str) -> bool:
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigLoadError(f'invalid {var}: expected one of 1, t, true, 0, f, false (got "{raw}")')


def parse_int(var: str, raw: str) -> int:
    if not _INT.fullmatch(raw):
        raise ConfigLoadError(f'invalid {var}: expected a base-10 integer (got "{raw}")')
    value = int(raw, 10)
    if not -_INT64 <= value < _INT64:
        raise ConfigLoadError(f'invalid {var}: value out of range (got "{raw}")')
    return value


def parse_float(var: str, raw: str) -> float:
    if not _FLOAT.fullmatch(raw):
        raise ConfigLoadError(f'invalid {var}: expected a decimal number (got "{raw}")')
    return float(raw)


def as_text(var: str, raw: str) -> str:
    return raw


_Parser = Callable[[str, str], Any]
_OTEL = "observability.otel."

# Taken verbatim (not trimmed). Split around the OTel block only to keep the original's reading order.
SERVER_ENV: tuple[tuple[str, str, _Parser], ...] = (
    ("ONGOINGAI_HOST", "server.host", as_text),
    ("ONGOINGAI_PORT", "server.port", parse_int),
    ("ONGOINGAI_MAX_REQUEST_BODY_BYTES", "server.max_request_body_bytes", parse_int),
    ("ONGOINGAI_STORAGE_DRIVER", "storage.driver", as_text),
    ("ONGOINGAI_STORAGE_PATH", "storage.path", as_text),
    ("ONGOINGAI_STORAGE_DSN", "storage.dsn", as_text),
    ("ONGOINGAI_OPENAI_UPSTREAM", "providers.openai.upstream", as_text),
    ("ONGOINGAI_ANTHROPIC_UPSTREAM", "providers.anthropic.upstream", as_text),
    ("ONGOINGAI_CAPTURE_BODIES", "tracing.capture_bodies", parse_bool),
    ("ONGOINGAI_BODY_MAX_SIZE", "tracing.body_max_size", parse_int),
    ("ONGOINGAI_TRACE_QUEUE_CAPACITY", "tracing.writer.queue_capacity", parse_int),
    ("ONGOINGAI_TRACE_BATCH_SIZE", "tracing.writer.batch_size", parse_int),
    ("ONGOINGAI_TRACE_FLUSH_INTERVAL_MS", "tracing.writer.flush_interval_ms", parse_int),
    ("ONGOINGAI_SPILL_PATH", "tracing.spill.path", as_text),
)
POLICY_ENV: tuple[tuple[str, str, _Parser], ...] = (
    ("ONGOINGAI_PII_MODE", "pii.mode", as_text),
    ("ONGOINGAI_PII_POLICY_ID", "pii.policy_id", as_text),
    ("ONGOINGAI_PII_HASH_SALT", "pii.replacement.hash_salt", as_text),
    ("ONGOINGAI_AUTH_ENABLED", "auth.enabled", parse_bool),
    ("ONGOINGAI_AUTH_HEADER", "auth.header", as_text),
    ("ONGOINGAI_AUTH_KEY_STORE", "auth.key_store", as_text),
    ("ONGOINGAI_LOG_LEVEL", "logging.level", as_text),
    ("ONGOINGAI_LOG_FORMAT", "logging.format", as_text),
    ("ONGOINGAI_LIMITS_BACKEND", "limits.backend", as_text),
    ("ONGOINGAI_REDIS_URL", "limits.redis_url", as_text),
)
# Trimmed. Each one that is set turns observability.otel.enabled on unless OTEL_SDK_DISABLED is set.
OTEL_ENV_BEFORE_EXPORTERS: tuple[tuple[str, str, _Parser], ...] = (
    ("OTEL_EXPORTER_OTLP_ENDPOINT", _OTEL + "endpoint", as_text),
    ("OTEL_EXPORTER_OTLP_INSECURE", _OTEL + "insecure", parse_bool),
    ("OTEL_SERVICE_NAME", _OTEL + "service_name", as_text),
)
OTEL_ENV_AFTER_EXPORTERS: tuple[tuple[str, str, _Parser], ...] = (
    ("OTEL_TRACES_SAMPLER_ARG", _OTEL + "sampling_ratio", parse_float),
    ("OTEL_EXPORTER_OTLP_TIMEOUT", _OTEL + "export_timeout_ms", parse_int),
    ("OTEL_METRIC_EXPORT_INTERVAL", _OTEL + "metric_export_interval_ms", parse_int),
    # After OTEL_METRICS_EXPORTER, so an explicit ONGOINGAI_PROMETHEUS_ENABLED wins over `prometheus`.
    ("ONGOINGAI_PROMETHEUS_ENABLED", _OTEL + "prometheus_enabled", parse_bool),
    ("ONGOINGAI_PROMETHEUS_PATH", _OTEL + "prometheus_path", as_text),
)
OTEL_SPECIAL = ("OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER")

ENV_VARS: tuple[str, ...] = (
    tuple(
        var
        for table in (SERVER_ENV, OTEL_ENV_BEFORE_EXPORTERS, OTEL_ENV_AFTER_EXPORTERS, POLICY_ENV)
        for var, _, _ in table
    )
    + OTEL_SPECIAL
)


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """The nested override dict the env asks for.

    Raises:
        ConfigLoadError: `invalid <VAR>: …` for the first unparsable value.
    """
    out: dict[str, Any] = {}
    _apply(out, environ, SERVER_ENV, trim=False)
    _apply_otel(out, environ)
    _apply(out, environ, POLICY_ENV, trim=False)
    return out


def _apply(
    out: dict[str, Any], environ: Mapping[str, str], table: tuple[tuple[str, str, _Parser], ...], trim: bool
) -> bool:
    applied = False
    for var, dotted, parse in table:
        raw = environ.get(var, "")
        if trim:
            raw = raw.strip()
        if raw:
            _set_dotted(out, dotted, parse(var, raw))
            applied = True
    return applied


def _apply_otel(out: dict[str, Any], environ: Mapping[str, str]) -> None:
    disabled = environ.get("OTEL_SDK_DISABLED", "").strip()
    if disabled:
        _set_dotted(out, _OTEL + "enabled", not parse_bool("OTEL_SDK_DISABLED", disabled))
    touched = _apply(out, environ, OTEL_ENV_BEFORE_EXPORTERS, trim=True)
    touched |= _apply_exporters(out, environ)
    touched |= _apply(out, environ, OTEL_ENV_AFTER_EXPORTERS, trim=True)
    if touched and not disabled:
        _set_dotted(out, _OTEL + "enabled", True)


def _apply_exporters(out: dict[str, Any], environ: Mapping[str, str]) -> bool:
    traces = environ.get("OTEL_TRACES_EXPORTER", "").strip()
    if traces:
        if traces.lower() not in ("otlp", "none"):
            raise ConfigLoadError(f'invalid OTEL_TRACES_EXPORTER: must be one of otlp, none (got "{traces}")')
        _set_dotted(out, _OTEL + "traces_enabled", traces.lower() == "otlp")
    metrics = environ.get("OTEL_METRICS_EXPORTER", "").strip()
    if metrics:
        if metrics.lower() not in ("otlp", "none", "prometheus"):
            raise ConfigLoadError(
                f'invalid OTEL_METRICS_EXPORTER: must be one of otlp, none, prometheus (got "{metrics}")'
            )
        _set_dotted(out, _OTEL + "metrics_enabled", metrics.lower() == "otlp")
        if metrics.lower() == "prometheus":
            _set_dotted(out, _OTEL + "prometheus_enabled", True)
    return bool(traces or metrics)


def _set_dotted(target: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = target
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
