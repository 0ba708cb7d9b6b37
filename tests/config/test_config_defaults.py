"""Defaults: every key of config-and-cli.md §2 and DEVIATIONS.md "New configuration keys", and no other."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from ongoingai.config import Settings
from ongoingai.config.model import GatewayKeyConfig, PiiScope, PiiScopeMatch, PriceOverride

SPEC_DEFAULTS: dict[str, Any] = {
    "server.host": "0.0.0.0",
    "server.port": 8080,
    "server.max_request_body_bytes": 33_554_432,
    "storage.driver": "sqlite",
    "storage.path": "./data/ongoingai.db",
    "storage.dsn": "",
    "storage.pool.min_size": 2,
    "storage.pool.max_size": 20,
    "providers.openai.upstream": "https://api.openai.com",
    "providers.openai.prefix": "/openai",
    "providers.openai.timeout.connect": 10.0,
    "providers.openai.timeout.first_byte": 600.0,
    "providers.openai.timeout.idle": 300.0,
    "providers.anthropic.upstream": "https://api.anthropic.com",
    "providers.anthropic.prefix": "/anthropic",
    "providers.anthropic.timeout.connect": 10.0,
    "providers.anthropic.timeout.first_byte": 600.0,
    "providers.anthropic.timeout.idle": 300.0,
    "tracing.capture_bodies": False,
    "tracing.body_max_size": 1_048_576,
    "tracing.writer.queue_capacity": 1024,
    "tracing.writer.batch_size": 64,
    "tracing.writer.flush_interval_ms": 200,
    "tracing.spill.path": "",  # empty: derived from storage.path by sink.default_spill_path
    "tracing.spill.max_bytes": 268_435_456,
    "observability.otel.enabled": False,
    "observability.otel.endpoint": "localhost:4318",
    "observability.otel.insecure": True,
    "observability.otel.service_name": "ongoingai-gateway",
    "observability.otel.traces_enabled": True,
    "observability.otel.metrics_enabled": True,
    "observability.otel.prometheus_enabled": False,
    "observability.otel.prometheus_path": "/metrics",
    "observability.otel.sampling_ratio": 1.0,
    "observability.otel.export_timeout_ms": 3000,
    "observability.otel.metric_export_interval_ms": 10000,
    "pii.mode": "",
    "pii.policy_id": "default/v1",
    "pii.scopes": (),
    "pii.stages.request_headers": True,
    "pii.stages.request_body": True,
    "pii.stages.response_headers": True,
    "pii.stages.response_body": True,
    "pii.detectors.email": True,
    "pii.detectors.phone": True,
    "pii.detectors.ssn": True,
    "pii.detectors.token_like": True,
    "pii.detectors.payment_card": True,
    "pii.detectors.phone_region": "US",
    "pii.headers.denylist": ("authorization", "cookie", "set-cookie", "x-api-key", "x-ongoingai-gateway-key"),
    # DEVIATIONS.md "Field-name redaction" replaces the original's substring list.
    "pii.body.key_denylist": (
        "*email",
        "*phone",
        "*password",
        "*token",
        "*secret",
        "ssn",
        "*apikey",
        "authorization",
        "*privatekey",
    ),
    "pii.body.path_rules": (),
    "pii.replacement.format": "[{type}_REDACTED:{hash}]",
    "pii.replacement.hash_salt": "",
    "auth.enabled": False,
    "auth.header": "X-OngoingAI-Gateway-Key",
    "auth.key_store": "config",
    "auth.cache.refresh_interval_s": 30.0,
    "auth.cache.max_staleness_s": 60.0,
    "auth.keys": (),
    "limits.per_key.requests_per_minute": 0,
    "limits.per_key.max_tokens_per_day": 0,
    "limits.per_key.max_cost_usd_per_day": 0.0,
    "limits.per_workspace.requests_per_minute": 0,
    "limits.per_workspace.max_tokens_per_day": 0,
    "limits.per_workspace.max_cost_usd_per_day": 0.0,
    # issue 8: concurrency limits beyond the original (docs/limits.md), off by default.
    "limits.per_key.max_concurrent_requests": 0,
    "limits.per_workspace.max_concurrent_requests": 0,
    "limits.backend": "memory",
    "limits.redis_url": "",
    "pricing.overrides": {},
    "logging.level": "info",
    "logging.format": "json",
}


def value_at(settings: BaseModel, dotted: str) -> Any:
    node: Any = settings
    for part in dotted.split("."):
        node = getattr(node, part)
    return node.get_secret_value() if isinstance(node, SecretStr) else node


def leaf_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys += leaf_keys(annotation, f"{prefix}{name}.")
        else:
            keys.append(prefix + name)
    return keys


@pytest.mark.parametrize(("key", "expected"), SPEC_DEFAULTS.items(), ids=list(SPEC_DEFAULTS))
def test_default_matches_spec(key: str, expected: Any) -> None:
    value = value_at(Settings(), key)
    assert value == expected
    assert type(value) is type(expected)


def test_key_tree_has_exactly_the_spec_keys() -> None:
    assert sorted(leaf_keys(Settings)) == sorted(SPEC_DEFAULTS)


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (
            GatewayKeyConfig,
            "id token org_id workspace_id team name description created_by role permissions expires_at",
        ),
        (PiiScope, "match mode policy_id"),
        (PiiScopeMatch, "org_id workspace_id key_id provider route_prefix"),
        (PriceOverride, "input output cached_input cache_write reasoning"),
    ],
    ids=["auth.keys[]", "pii.scopes[]", "pii.scopes[].match", "pricing.overrides.*"],
)
def test_list_item_fields_match_spec(model: type[BaseModel], fields: str) -> None:
    assert list(model.model_fields) == fields.split()


def test_gateway_key_defaults_leave_role_and_expiry_unset() -> None:
    key = GatewayKeyConfig()
    assert key.role is None  # omitted role means developer (DEVIATIONS.md)
    assert key.expires_at is None
    assert key.permissions == ()


@pytest.mark.parametrize(
    ("mode", "capture_bodies", "expected"),
    [
        ("", False, "off"),
        ("", True, "redact_storage"),
        ("  Block ", False, "block"),
        ("OBSERVE", True, "observe"),
    ],
)
def test_effective_pii_mode(mode: str, capture_bodies: bool, expected: str) -> None:
    settings = Settings(pii={"mode": mode}, tracing={"capture_bodies": capture_bodies})
    assert settings.effective_pii_mode == expected


def test_body_max_size_at_or_below_zero_means_the_default_at_runtime() -> None:
    assert Settings(tracing={"body_max_size": 0}).tracing.effective_body_max_size == 1_048_576
    assert Settings(tracing={"body_max_size": 10}).tracing.effective_body_max_size == 10
