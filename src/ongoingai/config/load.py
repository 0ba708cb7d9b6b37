"""`load_settings(path)`: the only config loader (serve, config validate, doctor, report, debug …).

Order (config-and-cli.md §1): defaults → YAML file (a missing file is fine) → `ONGOINGAI_*`/`OTEL_*`
env overrides applied only when non-empty. Validation is a separate step (`validate_settings`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ongoingai.config.errors import ConfigLoadError
from ongoingai.config.settings import Settings

DEFAULT_CONFIG_PATH = "ongoingai.yaml"

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def parse_bool(var: str, raw: str) -> bool:
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigLoadError(f'invalid {var}: expected a boolean (got "{raw}")')


def parse_int(var: str, raw: str) -> int:
    try:
        return int(raw.strip(), 10)
    except ValueError:
        raise ConfigLoadError(f'invalid {var}: expected an integer (got "{raw}")') from None


def parse_float(var: str, raw: str) -> float:
    try:
        return float(raw.strip())
    except ValueError:
        raise ConfigLoadError(f'invalid {var}: expected a number (got "{raw}")') from None


def _as_str(var: str, raw: str) -> str:
    return raw


_Parser = Callable[[str, str], Any]

# Env var → (dotted key, parser). Only these names are read; see config-and-cli.md §2 and DEVIATIONS.md.
ENV_TABLE: dict[str, tuple[str, _Parser]] = {
    "ONGOINGAI_HOST": ("server.host", _as_str),
    "ONGOINGAI_PORT": ("server.port", parse_int),
    "ONGOINGAI_MAX_REQUEST_BODY_BYTES": ("server.max_request_body_bytes", parse_int),
    "ONGOINGAI_STORAGE_DRIVER": ("storage.driver", _as_str),
    "ONGOINGAI_STORAGE_PATH": ("storage.path", _as_str),
    "ONGOINGAI_STORAGE_DSN": ("storage.dsn", _as_str),
    "ONGOINGAI_OPENAI_UPSTREAM": ("providers.openai.upstream", _as_str),
    "ONGOINGAI_ANTHROPIC_UPSTREAM": ("providers.anthropic.upstream", _as_str),
    "ONGOINGAI_CAPTURE_BODIES": ("tracing.capture_bodies", parse_bool),
    "ONGOINGAI_BODY_MAX_SIZE": ("tracing.body_max_size", parse_int),
    "ONGOINGAI_TRACE_QUEUE_CAPACITY": ("tracing.writer.queue_capacity", parse_int),
    "ONGOINGAI_TRACE_BATCH_SIZE": ("tracing.writer.batch_size", parse_int),
    "ONGOINGAI_TRACE_FLUSH_INTERVAL_MS": ("tracing.writer.flush_interval_ms", parse_int),
    "ONGOINGAI_SPILL_PATH": ("tracing.spill.path", _as_str),
    "ONGOINGAI_PII_MODE": ("pii.mode", _as_str),
    "ONGOINGAI_PII_POLICY_ID": ("pii.policy_id", _as_str),
    "ONGOINGAI_PII_HASH_SALT": ("pii.replacement.hash_salt", _as_str),
    "ONGOINGAI_AUTH_ENABLED": ("auth.enabled", parse_bool),
    "ONGOINGAI_AUTH_HEADER": ("auth.header", _as_str),
    "ONGOINGAI_AUTH_KEY_STORE": ("auth.key_store", _as_str),
    "ONGOINGAI_LOG_LEVEL": ("logging.level", _as_str),
    "ONGOINGAI_LOG_FORMAT": ("logging.format", _as_str),
    "ONGOINGAI_LIMITS_BACKEND": ("limits.backend", _as_str),
    "ONGOINGAI_REDIS_URL": ("limits.redis_url", _as_str),
}

_OTEL = "observability.otel."
# Telemetry vars are trimmed before use (config-and-cli.md §1).
OTEL_ENV_TABLE: dict[str, tuple[str, _Parser]] = {
    "OTEL_EXPORTER_OTLP_ENDPOINT": (_OTEL + "endpoint", _as_str),
    "OTEL_EXPORTER_OTLP_INSECURE": (_OTEL + "insecure", parse_bool),
    "OTEL_SERVICE_NAME": (_OTEL + "service_name", _as_str),
    "OTEL_TRACES_SAMPLER_ARG": (_OTEL + "sampling_ratio", parse_float),
    "OTEL_EXPORTER_OTLP_TIMEOUT": (_OTEL + "export_timeout_ms", parse_int),
    "OTEL_METRIC_EXPORT_INTERVAL": (_OTEL + "metric_export_interval_ms", parse_int),
    "ONGOINGAI_PROMETHEUS_ENABLED": (_OTEL + "prometheus_enabled", parse_bool),
    "ONGOINGAI_PROMETHEUS_PATH": (_OTEL + "prometheus_path", _as_str),
}


def _set_dotted(target: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = target
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """The nested override dict the env asks for; raises ConfigLoadError on an unparsable value."""
    out: dict[str, Any] = {}
    for var, (dotted, parse) in ENV_TABLE.items():
        raw = environ.get(var, "")
        if raw != "":
            _set_dotted(out, dotted, parse(var, raw))
    otel_touched = False
    for var, (dotted, parse) in OTEL_ENV_TABLE.items():
        raw = environ.get(var, "").strip()
        if raw:
            _set_dotted(out, dotted, parse(var, raw))
            otel_touched = True
    otel_touched |= _apply_exporters(out, environ)
    disabled = environ.get("OTEL_SDK_DISABLED", "").strip()
    if disabled:
        _set_dotted(out, _OTEL + "enabled", not parse_bool("OTEL_SDK_DISABLED", disabled))
    elif otel_touched:
        _set_dotted(out, _OTEL + "enabled", True)
    return out


def _apply_exporters(out: dict[str, Any], environ: Mapping[str, str]) -> bool:
    touched = False
    traces = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if traces:
        if traces not in ("otlp", "none"):
            raise ConfigLoadError(f'invalid OTEL_TRACES_EXPORTER: expected otlp or none (got "{traces}")')
        _set_dotted(out, _OTEL + "traces_enabled", traces == "otlp")
        touched = True
    metrics = environ.get("OTEL_METRICS_EXPORTER", "").strip().lower()
    if metrics:
        if metrics not in ("otlp", "none", "prometheus"):
            raise ConfigLoadError(
                f'invalid OTEL_METRICS_EXPORTER: expected otlp, none or prometheus (got "{metrics}")'
            )
        _set_dotted(out, _OTEL + "metrics_enabled", metrics == "otlp")
        if metrics == "prometheus":
            _set_dotted(out, _OTEL + "prometheus_enabled", True)
        touched = True
    return touched


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigLoadError(f'read config "{path}": {exc.strerror or exc}') from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigLoadError(f'parse yaml "{path}": {_one_line(str(exc))}') from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigLoadError(f'parse yaml "{path}": top level must be a mapping of keys')
    return data


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Load `ongoingai.yaml` (or `path`) plus env overrides into frozen Settings.

    Raises:
        ConfigLoadError: the file cannot be read or parsed, an env value is malformed, or a key is
            unknown or has the wrong type. The message names the file or variable and the key.
    """
    config_path = Path(path if path is not None else DEFAULT_CONFIG_PATH)
    env = os.environ if environ is None else environ
    yaml_data = read_yaml(config_path)
    overrides = env_overrides(env)
    # One merged source keeps env winning over YAML key by key, including inside nested sections.
    data = _deep_merge(yaml_data, overrides)
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigLoadError(f'parse yaml "{config_path}": {format_validation_error(exc)}') from None


def format_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False, include_input=False):
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown key {key}")
        else:
            parts.append(f"{key}: {err['msg']}")
    return "; ".join(parts)
