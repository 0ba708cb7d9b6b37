"""Validation (config-and-cli.md §2 + DEVIATIONS.md): every message, and the order of the checks."""

from __future__ import annotations

from typing import Any

import pytest

from ongoingai.config import ConfigInvalidError, Settings, validate_settings

OTEL_ON = {"observability": {"otel": {"enabled": True}}}


def settings(data: dict[str, Any]) -> Settings:
    return Settings.model_validate(data)


def problem(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigInvalidError) as info:
        validate_settings(settings(data))
    return str(info.value)


def otel(**fields: Any) -> dict[str, Any]:
    return {"observability": {"otel": {"enabled": True, **fields}}}


def key(**fields: Any) -> dict[str, Any]:
    return {"auth": {"keys": [{"id": "k1", "token": "tok", **fields}]}}


def scope(**fields: Any) -> dict[str, Any]:
    return {"pii": {"scopes": [fields]}}


FIVE_MODES = "off, redact_storage, redact_upstream, block, observe"

# (config, message): one row per message the validator can produce.
MESSAGES: dict[str, tuple[dict[str, Any], str]] = {
    "port-zero": ({"server": {"port": 0}}, "server.port must be between 1 and 65535 (got 0)"),
    "port-high": ({"server": {"port": 65536}}, "server.port must be between 1 and 65535 (got 65536)"),
    "port-negative": ({"server": {"port": -1}}, "server.port must be between 1 and 65535 (got -1)"),
    "driver": (
        {"storage": {"driver": "mysql"}},
        'storage.driver must be one of sqlite, postgres (got "mysql")',
    ),
    "driver-case": (
        {"storage": {"driver": "SQLite"}},
        'storage.driver must be one of sqlite, postgres (got "SQLite")',
    ),
    "sqlite-path": ({"storage": {"path": "  "}}, "storage.path is required when storage.driver=sqlite"),
    "postgres-dsn": (
        {"storage": {"driver": "postgres"}},
        "storage.dsn is required when storage.driver=postgres",
    ),
    "openai-prefix-empty": (
        {"providers": {"openai": {"prefix": " "}}},
        "providers.openai.prefix is required",
    ),
    "openai-prefix-slash": (
        {"providers": {"openai": {"prefix": "openai"}}},
        "providers.openai.prefix must start with '/' (got \"openai\")",
    ),
    "openai-upstream-empty": (
        {"providers": {"openai": {"upstream": ""}}},
        "providers.openai.upstream is required",
    ),
    "openai-upstream-no-scheme": (
        {"providers": {"openai": {"upstream": "api.openai.com"}}},
        'providers.openai.upstream must include scheme and host (got "api.openai.com")',
    ),
    "openai-upstream-no-host": (
        {"providers": {"openai": {"upstream": "localhost:8080"}}},
        'providers.openai.upstream must include scheme and host (got "localhost:8080")',
    ),
    "openai-upstream-unparsable": (
        {"providers": {"openai": {"upstream": "http://[::1"}}},
        "parse providers.openai.upstream: Invalid IPv6 URL",
    ),
    # Ours, not the original's: a non-HTTP upstream could only fail on the first proxied request.
    "openai-upstream-scheme": (
        {"providers": {"openai": {"upstream": "ftp://files.example"}}},
        'providers.openai.upstream scheme must be http or https (got "ftp://files.example")',
    ),
    "anthropic-prefix": (
        {"providers": {"anthropic": {"prefix": "anthropic"}}},
        "providers.anthropic.prefix must start with '/' (got \"anthropic\")",
    ),
    "anthropic-upstream": (
        {"providers": {"anthropic": {"upstream": "nohost"}}},
        'providers.anthropic.upstream must include scheme and host (got "nohost")',
    ),
    "auth-header": ({"auth": {"header": "  "}}, "auth.header must not be empty"),
    "pii-mode": ({"pii": {"mode": "redact"}}, f'pii.mode must be one of {FIVE_MODES} (got "redact")'),
    "scope-no-selector": (
        scope(match={"org_id": " "}, mode="block"),
        "pii.scopes[0].match must set at least one selector: "
        "org_id, workspace_id, key_id, provider, or route_prefix",
    ),
    "scope-provider-case": (
        scope(match={"provider": "OpenAI"}),
        'pii.scopes[0].match.provider must be lowercase when set (got "OpenAI")',
    ),
    "scope-route-prefix": (
        scope(match={"route_prefix": "openai/v1"}),
        "pii.scopes[0].match.route_prefix must start with '/' (got \"openai/v1\")",
    ),
    "scope-mode": (
        scope(match={"org_id": "o"}, mode="strict"),
        f'pii.scopes[0].mode must be one of {FIVE_MODES} (got "strict")',
    ),
    "otel-endpoint": (
        otel(endpoint=" "),
        "observability.otel.endpoint is required when observability.otel.enabled=true",
    ),
    "otel-service-name": (
        otel(service_name=""),
        "observability.otel.service_name is required when observability.otel.enabled=true",
    ),
    "otel-nothing-enabled": (
        otel(traces_enabled=False, metrics_enabled=False),
        "observability.otel requires traces_enabled, metrics_enabled, and/or prometheus_enabled when enabled",
    ),
    "otel-sampling-high": (
        otel(sampling_ratio=1.5),
        "observability.otel.sampling_ratio must be between 0 and 1 (got 1.500000)",
    ),
    "otel-sampling-negative": (
        otel(sampling_ratio=-0.1),
        "observability.otel.sampling_ratio must be between 0 and 1 (got -0.100000)",
    ),
    "otel-export-timeout": (
        otel(export_timeout_ms=0),
        "observability.otel.export_timeout_ms must be > 0 (got 0)",
    ),
    "otel-metric-interval": (
        otel(metric_export_interval_ms=-5),
        "observability.otel.metric_export_interval_ms must be > 0 (got -5)",
    ),
    "prometheus-path-slash": (
        otel(prometheus_enabled=True, prometheus_path="metrics"),
        "observability.otel.prometheus_path must start with '/' (got \"metrics\")",
    ),
    "prometheus-path-api": (
        otel(prometheus_enabled=True, prometheus_path="/api/metrics"),
        'observability.otel.prometheus_path must not overlap with /api (got "/api/metrics")',
    ),
    "prometheus-path-openai": (
        otel(prometheus_enabled=True, prometheus_path="/openai-metrics"),
        'observability.otel.prometheus_path must not overlap with /openai (got "/openai-metrics")',
    ),
    "prometheus-path-anthropic": (
        otel(prometheus_enabled=True, prometheus_path="/anthropic"),
        'observability.otel.prometheus_path must not overlap with /anthropic (got "/anthropic")',
    ),
    # --- DEVIATIONS.md new keys ---
    "max-request-body": (
        {"server": {"max_request_body_bytes": 0}},
        "server.max_request_body_bytes must be > 0 (got 0)",
    ),
    "pool-min": ({"storage": {"pool": {"min_size": -1}}}, "storage.pool.min_size must be >= 0 (got -1)"),
    "pool-max": (
        {"storage": {"pool": {"min_size": 0, "max_size": 0}}},
        "storage.pool.max_size must be >= 1 (got 0)",
    ),
    "pool-order": (
        {"storage": {"pool": {"min_size": 5, "max_size": 4}}},
        "storage.pool.min_size must be <= max_size (got 5 > 4)",
    ),
    "key-store": (
        {"auth": {"key_store": "vault"}},
        'auth.key_store must be one of config, database (got "vault")',
    ),
    "cache-refresh": (
        {"auth": {"cache": {"refresh_interval_s": 0}}},
        "auth.cache.refresh_interval_s must be > 0 (got 0)",
    ),
    "cache-staleness": (
        {"auth": {"cache": {"refresh_interval_s": 30, "max_staleness_s": 10}}},
        "auth.cache.max_staleness_s must be >= auth.cache.refresh_interval_s (got 10 < 30)",
    ),
    "role-empty": (key(role=""), 'auth.keys[0].role: invalid role ""'),
    "role-unknown": (key(role="superuser"), 'auth.keys[0].role: invalid role "superuser"'),
    "expires-at": (
        key(expires_at="next tuesday"),
        'auth.keys[0].expires_at must be an RFC 3339 timestamp (got "next tuesday")',
    ),
    "expires-at-date-only": (
        key(expires_at="2030-01-01"),
        'auth.keys[0].expires_at must be an RFC 3339 timestamp (got "2030-01-01")',
    ),
    "expires-at-no-offset": (
        key(expires_at="2030-01-01T00:00:00"),
        'auth.keys[0].expires_at must be an RFC 3339 timestamp (got "2030-01-01T00:00:00")',
    ),
    "expires-at-bad-day": (
        key(expires_at="2030-02-30T00:00:00Z"),
        'auth.keys[0].expires_at must be an RFC 3339 timestamp (got "2030-02-30T00:00:00Z")',
    ),
    "phone-region": (
        {"pii": {"detectors": {"phone_region": "USA"}}},
        'pii.detectors.phone_region must be a two-letter region code such as US (got "USA")',
    ),
    "path-rule": (
        {"pii": {"body": {"path_rules": ["$.ok", "a.b"]}}},
        'pii.body.path_rules[1] must be a JSON path like $.a.b, $.a[*].b or $..b (got "a.b")',
    ),
    "path-rule-root-only": (
        {"pii": {"body": {"path_rules": ["$"]}}},
        'pii.body.path_rules[0] must be a JSON path like $.a.b, $.a[*].b or $..b (got "$")',
    ),
    "pricing": (
        {"pricing": {"overrides": {"my-model": {"input": -1, "output": 1}}}},
        'pricing.overrides["my-model"] rates must be >= 0',
    ),
    "log-level": (
        {"logging": {"level": "verbose"}},
        'logging.level must be one of debug, info, warn, warning, error (got "verbose")',
    ),
    "log-format": ({"logging": {"format": "xml"}}, 'logging.format must be one of json, text (got "xml")'),
    "limits-backend": (
        {"limits": {"backend": "memcached"}},
        'limits.backend must be one of memory, redis (got "memcached")',
    ),
    "limits-redis-url": (
        {"limits": {"backend": "redis"}},
        "limits.redis_url is required when limits.backend=redis",
    ),
    "limits-redis-scheme": (
        {"limits": {"backend": "redis", "redis_url": "http://cache:6379"}},
        "limits.redis_url must be a redis://, rediss:// or unix:// URL",
    ),
}

POSITIVE_NEW_KEYS = [
    ("server", "max_request_body_bytes"),
    ("providers.openai.timeout", "connect"),
    ("providers.openai.timeout", "first_byte"),
    ("providers.openai.timeout", "idle"),
    ("providers.anthropic.timeout", "connect"),
    ("providers.anthropic.timeout", "first_byte"),
    ("providers.anthropic.timeout", "idle"),
    ("tracing.writer", "queue_capacity"),
    ("tracing.writer", "batch_size"),
    ("tracing.writer", "flush_interval_ms"),
    ("tracing.spill", "max_bytes"),
]


def nested(dotted: str, value: Any) -> dict[str, Any]:
    *parents, leaf = dotted.split(".")
    data: dict[str, Any] = {leaf: value}
    for part in reversed(parents):
        data = {part: data}
    return data


def test_defaults_are_valid() -> None:
    validate_settings(Settings())


@pytest.mark.parametrize(("data", "message"), MESSAGES.values(), ids=list(MESSAGES))
def test_message(data: dict[str, Any], message: str) -> None:
    assert problem(data) == message


@pytest.mark.parametrize(
    ("section", "field"), POSITIVE_NEW_KEYS, ids=[f"{s}.{f}" for s, f in POSITIVE_NEW_KEYS]
)
@pytest.mark.parametrize("value", [0, -1])
def test_new_keys_at_or_below_zero_are_rejected(section: str, field: str, value: int) -> None:
    assert problem(nested(f"{section}.{field}", value)) == f"{section}.{field} must be > 0 (got {value})"


@pytest.mark.parametrize(
    "data",
    [
        {"tracing": {"body_max_size": 0}},
        {"tracing": {"body_max_size": -1}},
        {
            "limits": {
                "per_key": {"requests_per_minute": -1, "max_tokens_per_day": -1, "max_cost_usd_per_day": -1}
            }
        },
        {"limits": {"per_workspace": {"requests_per_minute": 0}}},
        {"server": {"port": 1}},
        {"server": {"port": 65535}},
        {"storage": {"driver": " postgres ", "dsn": "postgres://db"}},
        {"storage": {"driver": "postgres", "dsn": "postgres://db", "path": ""}},
        {"providers": {"openai": {"prefix": " /gw ", "upstream": " http://127.0.0.1:9 "}}},
        {"providers": {"openai": {"upstream": "HTTPS://API.EXAMPLE"}}},
        {"auth": {"header": "X-API-Key"}},  # doctor warns about this; validation does not
        {"storage": {"pool": {"min_size": 0, "max_size": 1}}},
        {"auth": {"cache": {"refresh_interval_s": 5, "max_staleness_s": 5}}},
        {"limits": {"backend": "redis", "redis_url": "rediss://:pw@cache:6380/1"}},
        {"limits": {"backend": "memory", "redis_url": ""}},
        {"logging": {"level": " WARN ", "format": "TEXT"}},
        {"pii": {"detectors": {"phone_region": "gb"}}},
        {"pii": {"body": {"path_rules": ["$.a.b", "$.a[*].b", "$..b", "$['x y'][0]", "$.*"]}}},
        {"pricing": {"overrides": {"m": {"input": 0, "output": 0, "cached_input": 0}}}},
    ],
    ids=lambda d: str(d),
)
def test_valid_edge_values(data: dict[str, Any]) -> None:
    validate_settings(settings(data))


@pytest.mark.parametrize(
    "mode", ["", "off", "redact_storage", "redact_upstream", "block", "observe", " Observe ", "BLOCK"]
)
def test_pii_modes_accepted(mode: str) -> None:
    validate_settings(settings({"pii": {"mode": mode, "scopes": [{"match": {"org_id": "o"}, "mode": mode}]}}))


@pytest.mark.parametrize(
    "match",
    [
        {"org_id": "o"},
        {"workspace_id": "w"},
        {"key_id": "k"},
        {"provider": "openai"},
        {"route_prefix": "/openai/v1"},
        {"provider": " anthropic ", "route_prefix": " /x"},
    ],
    ids=lambda m: ",".join(m),
)
def test_any_one_scope_selector_is_enough(match: dict[str, str]) -> None:
    validate_settings(settings(scope(match=match)))


@pytest.mark.parametrize(
    "role", [None, "owner", "admin", "developer", "member", "viewer", " Admin ", "VIEWER"]
)
def test_known_or_omitted_roles_are_accepted(role: str | None) -> None:
    fields = {} if role is None else {"role": role}
    validate_settings(settings(key(**fields)))


def test_the_first_bad_key_is_named() -> None:
    data = {"auth": {"keys": [{"role": "admin"}, {"role": "root"}, {"role": "x"}]}}
    assert problem(data) == 'auth.keys[1].role: invalid role "root"'


@pytest.mark.parametrize(
    "expires_at",
    [
        "2030-01-01T00:00:00Z",
        "2030-01-01T00:00:00.123456+02:00",
        "2030-01-01t00:00:00z",
        "2030-01-01 00:00:00-05:00",
    ],
)
def test_rfc3339_expiry_accepted(expires_at: str) -> None:
    validate_settings(settings(key(expires_at=expires_at)))


def test_otel_rules_apply_only_when_enabled() -> None:
    broken = {
        "endpoint": "",
        "service_name": "",
        "traces_enabled": False,
        "metrics_enabled": False,
        "sampling_ratio": 7.0,
        "export_timeout_ms": 0,
        "metric_export_interval_ms": 0,
        "prometheus_path": "api",
    }
    validate_settings(settings({"observability": {"otel": {"enabled": False, **broken}}}))


@pytest.mark.parametrize(
    "fields",
    [
        {"endpoint": "", "prometheus_enabled": True},
        {"traces_enabled": False, "metrics_enabled": False, "prometheus_enabled": True},
        {"endpoint": "ftp://collector"},  # passes; telemetry setup fails at startup and is logged
        {"prometheus_enabled": False, "prometheus_path": "/api"},
        {"prometheus_enabled": True, "prometheus_path": " /metrics "},
    ],
    ids=[
        "prometheus-without-endpoint",
        "prometheus-only",
        "non-http-endpoint",
        "path-unused",
        "path-trimmed",
    ],
)
def test_valid_otel_configs(fields: dict[str, Any]) -> None:
    validate_settings(settings(otel(**fields)))


# Each pair breaks two rules; the spec's order says which one is reported.
ORDER: dict[str, tuple[dict[str, Any], str]] = {
    "port-before-storage": ({"server": {"port": 0}, "storage": {"driver": "x"}}, "server.port"),
    "storage-before-providers": (
        {"storage": {"driver": "x"}, "providers": {"openai": {"prefix": "x"}}},
        "storage.driver",
    ),
    "openai-before-anthropic": (
        {"providers": {"anthropic": {"prefix": "x"}, "openai": {"upstream": "x"}}},
        "providers.openai.upstream",
    ),
    "prefix-before-upstream": (
        {"providers": {"openai": {"prefix": "x", "upstream": "x"}}},
        "providers.openai.prefix",
    ),
    "providers-before-auth-header": (
        {"providers": {"anthropic": {"upstream": ""}}, "auth": {"header": ""}},
        "providers.anthropic.upstream",
    ),
    "auth-header-before-pii-mode": ({"auth": {"header": ""}, "pii": {"mode": "x"}}, "auth.header"),
    "pii-mode-before-scopes": ({"pii": {"mode": "x", "scopes": [{"mode": "x"}]}}, "pii.mode"),
    "scope-order": ({"pii": {"scopes": [{"match": {"org_id": "o"}, "mode": "x"}, {}]}}, "pii.scopes[0].mode"),
    "selector-before-provider-case": (
        {"pii": {"scopes": [{"match": {"provider": " "}, "mode": "x"}]}},
        "pii.scopes[0].match must",
    ),
    "provider-case-before-route-prefix": (
        {"pii": {"scopes": [{"match": {"provider": "A", "route_prefix": "x"}}]}},
        "pii.scopes[0].match.provider",
    ),
    "route-prefix-before-mode": (
        {"pii": {"scopes": [{"match": {"route_prefix": "x"}, "mode": "x"}]}},
        "pii.scopes[0].match.route_prefix",
    ),
    "scopes-before-otel": (
        {"pii": {"scopes": [{}]}, **otel(endpoint="")},
        "pii.scopes[0].match",
    ),
    "otel-endpoint-before-service-name": (otel(endpoint="", service_name=""), "observability.otel.endpoint"),
    "otel-sampling-before-prometheus-path": (
        otel(sampling_ratio=2.0, prometheus_enabled=True, prometheus_path="x"),
        "observability.otel.sampling_ratio",
    ),
    "original-rules-before-new-keys": (
        {"auth": {"header": "", "keys": [{"role": ""}]}, "server": {"max_request_body_bytes": 0}},
        "auth.header",
    ),
    "otel-before-new-keys": (
        {**otel(service_name=""), "tracing": {"writer": {"batch_size": 0}}},
        "observability.otel.service_name",
    ),
    "new-keys-in-deviations-order": (
        {"limits": {"backend": "x"}, "auth": {"key_store": "x"}, "tracing": {"writer": {"batch_size": 0}}},
        "tracing.writer.batch_size",
    ),
}


@pytest.mark.parametrize(("data", "first"), ORDER.values(), ids=list(ORDER))
def test_validation_order(data: dict[str, Any], first: str) -> None:
    assert problem(data).startswith(first)
