"""Startup validation: the spec's rules in the spec's order; the first failure is reported.

Order (config-and-cli.md §2): port → storage → providers (openai then anthropic; prefix then upstream)
→ auth.header → pii.mode → pii.scopes[i] → OTel rules (only when enabled). Then the keys DEVIATIONS.md
adds, in its table's order. Messages for the original's rules are the original's texts; every message
names the key and the rule, and none quotes a secret (`storage.dsn`, tokens, salts, `limits.redis_url`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import urlsplit

from ongoingai.config.errors import ConfigInvalidError
from ongoingai.config.model import GatewayKeyConfig, OtelSettings, PiiScope, ProviderSettings
from ongoingai.config.settings import Settings

PII_MODES = ("off", "redact_storage", "redact_upstream", "block", "observe")
ROLES = ("owner", "admin", "developer", "member", "viewer")
LOG_LEVELS = ("debug", "info", "warn", "warning", "error")
_RESERVED_PROMETHEUS_PREFIXES = ("/api", "/openai", "/anthropic")
# RFC 3339 date-time: full date, `T`/`t`/space, time, optional fraction, mandatory offset.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
# `$.a.b`, `$.a[*].b`, `$..b`, `$['a b'][0]`: a root and at least one step.
_JSON_PATH_STEP = r"(\.\.?([A-Za-z0-9_-]+|\*)|\[(\*|\d+|'[^']*'|\"[^\"]*\")\])"
_JSON_PATH = re.compile(rf"\$(?:{_JSON_PATH_STEP})+")


def validate_settings(settings: Settings) -> None:
    """Check the loaded config against the spec's rules.

    Raises:
        ConfigInvalidError: the first broken rule, in the spec's order; the CLI prints
            `config is invalid: <message>` and exits 1.
    """
    for problem in _problems(settings):
        raise ConfigInvalidError(problem)


def _problems(s: Settings) -> Iterator[str]:
    if not 1 <= s.server.port <= 65535:
        yield f"server.port must be between 1 and 65535 (got {s.server.port})"
    yield from _storage(s)
    yield from _provider("providers.openai", s.providers.openai)
    yield from _provider("providers.anthropic", s.providers.anthropic)
    if not s.auth.header.strip():
        yield "auth.header must not be empty"
    if s.effective_pii_mode not in PII_MODES:
        yield f'pii.mode must be one of {", ".join(PII_MODES)} (got "{s.pii.mode}")'
    for i, scope in enumerate(s.pii.scopes):
        yield from _scope(f"pii.scopes[{i}]", scope)
    if s.observability.otel.enabled:
        yield from _otel(s.observability.otel)
    yield from _new_keys(s)


def _storage(s: Settings) -> Iterator[str]:
    driver = s.storage.driver
    if driver == "sqlite":
        if not s.storage.path.strip():
            yield "storage.path is required when storage.driver=sqlite"
    elif driver == "postgres":
        if not s.storage.dsn.get_secret_value().strip():
            yield "storage.dsn is required when storage.driver=postgres"
    else:
        yield f'storage.driver must be one of sqlite, postgres (got "{driver}")'


def _provider(key: str, p: ProviderSettings) -> Iterator[str]:
    prefix = p.prefix.strip()
    if not prefix:
        yield f"{key}.prefix is required"
    elif not prefix.startswith("/"):
        yield f"{key}.prefix must start with '/' (got \"{p.prefix}\")"
    upstream = p.upstream.strip()
    if not upstream:
        yield f"{key}.upstream is required"
        return
    try:
        parts = urlsplit(upstream)
    except ValueError as exc:
        yield f"parse {key}.upstream: {exc}"
        return
    if not parts.scheme or not parts.netloc:
        yield f'{key}.upstream must include scheme and host (got "{p.upstream}")'
    elif parts.scheme.lower() not in ("http", "https"):
        # Not in the original (it failed on the first proxied request instead); caught at startup here.
        yield f'{key}.upstream scheme must be http or https (got "{p.upstream}")'


def _scope(key: str, scope: PiiScope) -> Iterator[str]:
    m = scope.match
    if not any(v.strip() for v in (m.org_id, m.workspace_id, m.key_id, m.provider, m.route_prefix)):
        yield (
            f"{key}.match must set at least one selector: "
            "org_id, workspace_id, key_id, provider, or route_prefix"
        )
    provider = m.provider.strip()
    if provider and provider != provider.lower():
        yield f'{key}.match.provider must be lowercase when set (got "{m.provider}")'
    route_prefix = m.route_prefix.strip()
    if route_prefix and not route_prefix.startswith("/"):
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
    if not 0.0 <= o.sampling_ratio <= 1.0:
        yield f"{base}.sampling_ratio must be between 0 and 1 (got {o.sampling_ratio:f})"
    if o.export_timeout_ms <= 0:
        yield f"{base}.export_timeout_ms must be > 0 (got {o.export_timeout_ms})"
    if o.metric_export_interval_ms <= 0:
        yield f"{base}.metric_export_interval_ms must be > 0 (got {o.metric_export_interval_ms})"
    if o.prometheus_enabled:
        path = o.prometheus_path.strip()
        if not path.startswith("/"):
            yield f"{base}.prometheus_path must start with '/' (got \"{o.prometheus_path}\")"
        # A literal prefix check, as in the original: `/apiary` is rejected too.
        for reserved in _RESERVED_PROMETHEUS_PREFIXES:
            if path.startswith(reserved):
                yield f'{base}.prometheus_path must not overlap with {reserved} (got "{o.prometheus_path}")'


def _new_keys(s: Settings) -> Iterator[str]:
    """Keys added by DEVIATIONS.md ("New configuration keys"), in that table's order."""
    yield from _positive("server.max_request_body_bytes", s.server.max_request_body_bytes)
    for name in ("openai", "anthropic"):
        timeout = getattr(s.providers, name).timeout
        for field in ("connect", "first_byte", "idle"):
            yield from _positive(f"providers.{name}.timeout.{field}", getattr(timeout, field))
    for field in ("queue_capacity", "batch_size", "flush_interval_ms"):
        yield from _positive(f"tracing.writer.{field}", getattr(s.tracing.writer, field))
    yield from _positive("tracing.spill.max_bytes", s.tracing.spill.max_bytes)
    yield from _pool(s)
    if s.auth.key_store not in ("config", "database"):
        yield f'auth.key_store must be one of config, database (got "{s.auth.key_store}")'
    yield from _auth_cache(s)
    for i, key in enumerate(s.auth.keys):
        yield from _gateway_key(f"auth.keys[{i}]", key)
    yield from _pii_additions(s)
    for model, rates in s.pricing.overrides.items():
        values = (rates.input, rates.output, rates.cached_input, rates.cache_write, rates.reasoning)
        if any(v is not None and v < 0 for v in values):
            yield f'pricing.overrides["{model}"] rates must be >= 0'
    if s.logging.level not in LOG_LEVELS:
        yield f'logging.level must be one of {", ".join(LOG_LEVELS)} (got "{s.logging.level}")'
    if s.logging.format not in ("json", "text"):
        yield f'logging.format must be one of json, text (got "{s.logging.format}")'
    yield from _limits_backend(s)


def _positive(key: str, value: float) -> Iterator[str]:
    if value <= 0:
        yield f"{key} must be > 0 (got {_num(value)})"


def _num(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def _pool(s: Settings) -> Iterator[str]:
    pool = s.storage.pool
    if pool.min_size < 0:
        yield f"storage.pool.min_size must be >= 0 (got {pool.min_size})"
    elif pool.max_size < 1:
        yield f"storage.pool.max_size must be >= 1 (got {pool.max_size})"
    elif pool.min_size > pool.max_size:
        yield f"storage.pool.min_size must be <= max_size (got {pool.min_size} > {pool.max_size})"


def _auth_cache(s: Settings) -> Iterator[str]:
    cache = s.auth.cache
    yield from _positive("auth.cache.refresh_interval_s", cache.refresh_interval_s)
    if cache.refresh_interval_s > 0 and cache.max_staleness_s < cache.refresh_interval_s:
        # Staler than one refresh interval would fail every protected request closed between refreshes.
        yield (
            "auth.cache.max_staleness_s must be >= auth.cache.refresh_interval_s "
            f"(got {_num(cache.max_staleness_s)} < {_num(cache.refresh_interval_s)})"
        )


def _gateway_key(key: str, gk: GatewayKeyConfig) -> Iterator[str]:
    # DEVIATIONS.md "Empty role": omitted means developer; empty or unknown is rejected, never defaulted.
    if gk.role is not None and gk.role.strip().lower() not in ROLES:
        yield f'{key}.role: invalid role "{gk.role}"'
    if gk.expires_at is not None and not _is_rfc3339(gk.expires_at):
        yield f'{key}.expires_at must be an RFC 3339 timestamp (got "{gk.expires_at}")'


def _is_rfc3339(value: str) -> bool:
    if not _RFC3339.fullmatch(value.strip()):
        return False
    try:
        datetime.fromisoformat(value.strip().upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _pii_additions(s: Settings) -> Iterator[str]:
    region = s.pii.detectors.phone_region
    if not (len(region) == 2 and region.isascii() and region.isalpha()):
        yield f'pii.detectors.phone_region must be a two-letter region code such as US (got "{region}")'
    for i, rule in enumerate(s.pii.body.path_rules):
        if not _JSON_PATH.fullmatch(rule.strip()):
            yield f'pii.body.path_rules[{i}] must be a JSON path like $.a.b, $.a[*].b or $..b (got "{rule}")'


def _limits_backend(s: Settings) -> Iterator[str]:
    backend = s.limits.backend
    if backend not in ("memory", "redis"):
        yield f'limits.backend must be one of memory, redis (got "{backend}")'
        return
    url = s.limits.redis_url.get_secret_value().strip()
    if backend == "redis" and not url:
        yield "limits.redis_url is required when limits.backend=redis"
    elif url and _scheme(url) not in ("redis", "rediss", "unix"):
        # The URL may carry a password: name the rule, never the value.
        yield "limits.redis_url must be a redis://, rediss:// or unix:// URL"


def _scheme(url: str) -> str:
    try:
        return urlsplit(url).scheme.lower()
    except ValueError:
        return ""
