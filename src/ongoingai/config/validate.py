"""Startup validation: the spec's rules in the spec's order; the first failure is reported.

Order (config-and-cli.md §2): port → storage → providers (openai then anthropic; prefix then upstream)
→ auth.header → pii.mode → pii.scopes[i] → OTel rules (only when enabled); then the keys DEVIATIONS.md adds.
Every message names the key and the rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from urllib.parse import urlsplit

from ongoingai.config.errors import ConfigInvalidError
from ongoingai.config.model import GatewayKeyConfig, OtelSettings, PiiScope, ProviderSettings
from ongoingai.config.settings import Settings

PII_MODES = ("off", "redact_storage", "redact_upstream", "block", "observe")
ROLES = ("owner", "admin", "developer", "member", "viewer")
LOG_LEVELS = ("debug", "info", "warning", "warn", "error", "critical")


def validate_settings(settings: Settings) -> None:
    """Raise ConfigInvalidError with the first broken rule, in the spec's order."""
    for problem in _problems(settings):
        raise ConfigInvalidError(problem)


def _problems(s: Settings) -> Iterator[str]:
    if not 1 <= s.server.port <= 65535:
        yield f"server.port must be between 1 and 65535 (got {s.server.port})"
    yield from _storage(s)
    yield from _provider("openai", s.providers.openai)
    yield from _provider("anthropic", s.providers.anthropic)
    if not s.auth.header.strip():
        yield "auth.header must not be empty"
    mode = s.pii.mode.strip().lower()
    if mode and mode not in PII_MODES:
        yield f'pii.mode must be one of {", ".join(PII_MODES)} (got "{s.pii.mode}")'
    for i, scope in enumerate(s.pii.scopes):
        yield from _scope(i, scope)
    if s.observability.otel.enabled:
        yield from _otel(s.observability.otel)
    yield from _extensions(s)


def _storage(s: Settings) -> Iterator[str]:
    driver = s.storage.driver
    if driver not in ("sqlite", "postgres"):
        yield f'storage.driver must be one of sqlite, postgres (got "{driver}")'
    elif driver == "sqlite" and not s.storage.path.strip():
        yield "storage.path is required when storage.driver=sqlite"
    elif driver == "postgres" and not s.storage.dsn.get_secret_value().strip():
        yield "storage.dsn is required when storage.driver=postgres"


def _provider(name: str, p: ProviderSettings) -> Iterator[str]:
    key = f"providers.{name}"
    if not p.prefix.strip():
        yield f"{key}.prefix is required"
    elif not p.prefix.strip().startswith("/"):
        yield f"{key}.prefix must start with '/' (got \"{p.prefix}\")"
    if not p.upstream.strip():
        yield f"{key}.upstream is required"
    else:
        parts = urlsplit(p.upstream.strip())
        if not parts.scheme or not parts.netloc:
            yield f'{key}.upstream must include scheme and host (got "{p.upstream}")'
        elif parts.scheme not in ("http", "https"):
            yield f'{key}.upstream scheme must be http or https (got "{p.upstream}")'
    for field in ("connect", "first_byte", "idle"):
        value = getattr(p.timeout, field)
        if value <= 0:
            yield f"{key}.timeout.{field} must be greater than 0 (got {value:g})"


def _scope(i: int, scope: PiiScope) -> Iterator[str]:
    key = f"pii.scopes[{i}]"
    m = scope.match
    if not any(v.strip() for v in (m.org_id, m.workspace_id, m.key_id, m.provider, m.route_prefix)):
        yield f"{key}.match must set at least one of org_id, workspace_id, key_id, provider, route_prefix"
    if m.provider and m.provider != m.provider.lower():
        yield f'{key}.match.provider must be lower-case (got "{m.provider}")'
    if m.route_prefix and not m.route_prefix.startswith("/"):
        yield f"{key}.match.route_prefix must start with '/' (got \"{m.route_prefix}\")"
    mode = scope.mode.strip().lower()
    if mode and mode not in PII_MODES:
        yield f'{key}.mode must be one of {", ".join(PII_MODES)} (got "{scope.mode}")'


def _otel(o: OtelSettings) -> Iterator[str]:
    base = "observability.otel"
    if not o.endpoint.strip() and not o.prometheus_enabled:
        yield f"{base}.endpoint is required when {base}.enabled=true"
    if not o.service_name.strip():
        yield f"{base}.service_name is required when {base}.enabled=true"
    if not (o.traces_enabled or o.metrics_enabled or o.prometheus_enabled):
        yield f"{base} requires traces_enabled, metrics_enabled, and/or prometheus_enabled when enabled"
    if o.prometheus_enabled:
        path = o.prometheus_path
        if not path.startswith("/"):
            yield f"{base}.prometheus_path must start with '/' (got \"{path}\")"
        elif path.startswith(("/api", "/openai", "/anthropic")):
            yield f'{base}.prometheus_path must not start with /api, /openai or /anthropic (got "{path}")'
    if not 0.0 <= o.sampling_ratio <= 1.0:
        yield f"{base}.sampling_ratio must be between 0 and 1 (got {o.sampling_ratio:g})"
    if o.export_timeout_ms <= 0:
        yield f"{base}.export_timeout_ms must be greater than 0 (got {o.export_timeout_ms})"
    if o.metric_export_interval_ms <= 0:
        yield f"{base}.metric_export_interval_ms must be greater than 0 (got {o.metric_export_interval_ms})"


def _extensions(s: Settings) -> Iterator[str]:
    """Keys added by DEVIATIONS.md: each validated with a message naming key and rule."""
    if s.server.max_request_body_bytes <= 0:
        yield f"server.max_request_body_bytes must be greater than 0 (got {s.server.max_request_body_bytes})"
    w = s.tracing.writer
    for field in ("queue_capacity", "batch_size", "flush_interval_ms"):
        value = getattr(w, field)
        if value <= 0:
            yield f"tracing.writer.{field} must be greater than 0 (got {value})"
    if s.tracing.spill.max_bytes <= 0:
        yield f"tracing.spill.max_bytes must be greater than 0 (got {s.tracing.spill.max_bytes})"
    pool = s.storage.pool
    if pool.min_size < 0 or pool.max_size < 1 or pool.min_size > pool.max_size:
        yield f"storage.pool must satisfy 0 <= min_size <= max_size and max_size >= 1 (got {pool.min_size}/{pool.max_size})"
    if s.auth.key_store not in ("config", "database"):
        yield f'auth.key_store must be one of config, database (got "{s.auth.key_store}")'
    cache = s.auth.cache
    if cache.refresh_interval_s <= 0 or cache.max_staleness_s < cache.refresh_interval_s:
        yield (
            "auth.cache.max_staleness_s must be >= refresh_interval_s and both > 0 "
            f"(got {cache.refresh_interval_s:g}/{cache.max_staleness_s:g})"
        )
    for i, key in enumerate(s.auth.keys):
        yield from _gateway_key(i, key)
    if s.limits.backend not in ("memory", "redis"):
        yield f'limits.backend must be one of memory, redis (got "{s.limits.backend}")'
    elif s.limits.backend == "redis" and not s.limits.redis_url.get_secret_value().strip():
        yield "limits.redis_url is required when limits.backend=redis"
    if s.logging.level not in LOG_LEVELS:
        yield f'logging.level must be one of debug, info, warn, error (got "{s.logging.level}")'
    if s.logging.format not in ("json", "text"):
        yield f'logging.format must be one of json, text (got "{s.logging.format}")'
    for model, rates in s.pricing.overrides.items():
        values = [rates.input, rates.output, rates.cached_input, rates.cache_write, rates.reasoning]
        if any(v is not None and v < 0 for v in values):
            yield f'pricing.overrides["{model}"] rates must be >= 0'


def _gateway_key(i: int, key: GatewayKeyConfig) -> Iterator[str]:
    base = f"auth.keys[{i}]"
    if not key.id.strip():
        yield f"{base}.id is required"
    if not key.token.get_secret_value().strip():
        yield f"{base}.token is required"
    if key.role is not None and key.role.strip().lower() not in ROLES:
        yield f'{base}.role: invalid role "{key.role}"'
    if key.expires_at is not None:
        try:
            datetime.fromisoformat(key.expires_at.replace("Z", "+00:00"))
        except ValueError:
            yield f'{base}.expires_at must be an RFC 3339 timestamp (got "{key.expires_at}")'
