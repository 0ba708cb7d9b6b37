"""Env overrides (config-and-cli.md §1–2, DEVIATIONS.md new keys): table, parsing, trimming, OTel rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from ongoingai.config import ConfigLoadError, load_settings
from ongoingai.config.env import ENV_VARS

NO_FILE = ""
OTEL = "observability.otel."


def value_at(settings: BaseModel, dotted: str) -> Any:
    node: Any = settings
    for part in dotted.split("."):
        node = getattr(node, part)
    return node.get_secret_value() if isinstance(node, SecretStr) else node


def load_env(**env: str) -> Any:
    return load_settings(NO_FILE, env)


def env_error(**env: str) -> str:
    with pytest.raises(ConfigLoadError) as info:
        load_settings(NO_FILE, env)
    return str(info.value)


# (variable, raw value, key, expected value)
ENV_TABLE: list[tuple[str, str, str, Any]] = [
    ("ONGOINGAI_HOST", "127.0.0.1", "server.host", "127.0.0.1"),
    ("ONGOINGAI_PORT", "9090", "server.port", 9090),
    ("ONGOINGAI_MAX_REQUEST_BODY_BYTES", "1024", "server.max_request_body_bytes", 1024),
    ("ONGOINGAI_STORAGE_DRIVER", "postgres", "storage.driver", "postgres"),
    ("ONGOINGAI_STORAGE_PATH", "/tmp/x.db", "storage.path", "/tmp/x.db"),
    ("ONGOINGAI_STORAGE_DSN", "postgres://u:p@h/db", "storage.dsn", "postgres://u:p@h/db"),
    ("ONGOINGAI_OPENAI_UPSTREAM", "http://127.0.0.1:1", "providers.openai.upstream", "http://127.0.0.1:1"),
    (
        "ONGOINGAI_ANTHROPIC_UPSTREAM",
        "http://127.0.0.1:2",
        "providers.anthropic.upstream",
        "http://127.0.0.1:2",
    ),
    ("ONGOINGAI_CAPTURE_BODIES", "true", "tracing.capture_bodies", True),
    ("ONGOINGAI_BODY_MAX_SIZE", "2048", "tracing.body_max_size", 2048),
    ("ONGOINGAI_TRACE_QUEUE_CAPACITY", "10", "tracing.writer.queue_capacity", 10),
    ("ONGOINGAI_TRACE_BATCH_SIZE", "11", "tracing.writer.batch_size", 11),
    ("ONGOINGAI_TRACE_FLUSH_INTERVAL_MS", "12", "tracing.writer.flush_interval_ms", 12),
    ("ONGOINGAI_SPILL_PATH", "/srv/spill", "tracing.spill.path", "/srv/spill"),
    ("OTEL_SDK_DISABLED", "false", OTEL + "enabled", True),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318", OTEL + "endpoint", "collector:4318"),
    ("OTEL_EXPORTER_OTLP_INSECURE", "false", OTEL + "insecure", False),
    ("OTEL_SERVICE_NAME", "gw", OTEL + "service_name", "gw"),
    ("OTEL_TRACES_EXPORTER", "none", OTEL + "traces_enabled", False),
    ("OTEL_METRICS_EXPORTER", "none", OTEL + "metrics_enabled", False),
    ("OTEL_TRACES_SAMPLER_ARG", "0.25", OTEL + "sampling_ratio", 0.25),
    ("OTEL_EXPORTER_OTLP_TIMEOUT", "500", OTEL + "export_timeout_ms", 500),
    ("OTEL_METRIC_EXPORT_INTERVAL", "600", OTEL + "metric_export_interval_ms", 600),
    ("ONGOINGAI_PROMETHEUS_ENABLED", "true", OTEL + "prometheus_enabled", True),
    ("ONGOINGAI_PROMETHEUS_PATH", "/prom", OTEL + "prometheus_path", "/prom"),
    ("ONGOINGAI_PII_MODE", "block", "pii.mode", "block"),
    ("ONGOINGAI_PII_POLICY_ID", "strict/v2", "pii.policy_id", "strict/v2"),
    ("ONGOINGAI_PII_HASH_SALT", "pepper", "pii.replacement.hash_salt", "pepper"),
    ("ONGOINGAI_AUTH_ENABLED", "true", "auth.enabled", True),
    ("ONGOINGAI_AUTH_HEADER", "X-Key", "auth.header", "X-Key"),
    ("ONGOINGAI_AUTH_KEY_STORE", "database", "auth.key_store", "database"),
    ("ONGOINGAI_LOG_LEVEL", "debug", "logging.level", "debug"),
    ("ONGOINGAI_LOG_FORMAT", "text", "logging.format", "text"),
    ("ONGOINGAI_LIMITS_BACKEND", "redis", "limits.backend", "redis"),
    ("ONGOINGAI_REDIS_URL", "redis://127.0.0.1:6379/0", "limits.redis_url", "redis://127.0.0.1:6379/0"),
]

BOOL_VARS = [
    ("ONGOINGAI_CAPTURE_BODIES", "tracing.capture_bodies"),
    ("ONGOINGAI_AUTH_ENABLED", "auth.enabled"),
    ("OTEL_EXPORTER_OTLP_INSECURE", OTEL + "insecure"),
    ("ONGOINGAI_PROMETHEUS_ENABLED", OTEL + "prometheus_enabled"),
]
TRUE_FORMS = ["1", "t", "T", "TRUE", "true", "True"]
FALSE_FORMS = ["0", "f", "F", "FALSE", "false", "False"]
INT_VARS = [var for var, _, key, expected in ENV_TABLE if type(expected) is int]
OTEL_ENABLING_VARS = [
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"),
    ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
    ("OTEL_SERVICE_NAME", "gw"),
    ("OTEL_TRACES_EXPORTER", "otlp"),
    ("OTEL_METRICS_EXPORTER", "otlp"),
    ("OTEL_TRACES_SAMPLER_ARG", "0.5"),
    ("OTEL_EXPORTER_OTLP_TIMEOUT", "100"),
    ("OTEL_METRIC_EXPORT_INTERVAL", "100"),
    ("ONGOINGAI_PROMETHEUS_ENABLED", "false"),
    ("ONGOINGAI_PROMETHEUS_PATH", "/prom"),
]


@pytest.mark.parametrize(("var", "raw", "key", "expected"), ENV_TABLE, ids=[row[0] for row in ENV_TABLE])
def test_each_env_var_overrides_its_key(var: str, raw: str, key: str, expected: Any) -> None:
    assert value_at(load_env(**{var: raw}), key) == expected


def test_the_env_table_is_complete() -> None:
    assert sorted(ENV_VARS) == sorted(row[0] for row in ENV_TABLE)


def test_test_only_and_unlisted_variables_are_ignored() -> None:
    settings = load_env(
        ONGOINGAI_TEST_POSTGRES_DSN="postgres://x",
        ONGOINGAI_SERVER__PORT="1",
        ONGOINGAI_SERVER_PORT="1",
        SERVER_PORT="1",
        port="1",
    )
    assert settings == load_env()


@pytest.mark.parametrize(("var", "key"), BOOL_VARS, ids=[v for v, _ in BOOL_VARS])
@pytest.mark.parametrize("form", TRUE_FORMS + FALSE_FORMS)
def test_bool_vars_accept_go_parsebool_forms(var: str, key: str, form: str) -> None:
    assert value_at(load_env(**{var: form}), key) is (form in TRUE_FORMS)


@pytest.mark.parametrize("form", TRUE_FORMS + FALSE_FORMS)
def test_otel_sdk_disabled_is_inverted(form: str) -> None:
    assert load_env(OTEL_SDK_DISABLED=form).observability.otel.enabled is (form in FALSE_FORMS)


@pytest.mark.parametrize(("var", "key"), [*BOOL_VARS, ("OTEL_SDK_DISABLED", "")], ids=lambda v: str(v))
@pytest.mark.parametrize("raw", ["yes", "on", "tRUE", "2", "y"])
def test_bad_bool_is_a_load_error_naming_the_var(var: str, key: str, raw: str) -> None:
    assert env_error(**{var: raw}).startswith(f"invalid {var}: ")


@pytest.mark.parametrize("var", INT_VARS)
@pytest.mark.parametrize("raw", ["abc", "12a", "1.5", "1_000", "0x10", "١٢", "99999999999999999999"])
def test_bad_int_is_a_load_error_naming_the_var(var: str, raw: str) -> None:
    assert env_error(**{var: raw}).startswith(f"invalid {var}: ")


@pytest.mark.parametrize(("raw", "expected"), [("+80", 80), ("0080", 80), ("-1", -1)])
def test_ints_are_base_10_with_an_optional_sign(raw: str, expected: int) -> None:
    assert load_env(ONGOINGAI_PORT=raw).server.port == expected


@pytest.mark.parametrize("raw", ["abc", "1,5", "inf", "nan", "1_0", "0x1p-2", "1e"])
def test_bad_float_is_a_load_error(raw: str) -> None:
    assert env_error(OTEL_TRACES_SAMPLER_ARG=raw).startswith("invalid OTEL_TRACES_SAMPLER_ARG: ")


@pytest.mark.parametrize(
    ("raw", "expected"), [("0.5", 0.5), (".5", 0.5), ("1", 1.0), ("5e-1", 0.5), ("-0", 0.0)]
)
def test_floats_are_decimal(raw: str, expected: float) -> None:
    assert load_env(OTEL_TRACES_SAMPLER_ARG=raw).observability.otel.sampling_ratio == expected


def test_error_message_shape() -> None:
    assert env_error(ONGOINGAI_PORT="abc") == 'invalid ONGOINGAI_PORT: expected a base-10 integer (got "abc")'
    assert env_error(ONGOINGAI_AUTH_ENABLED="yes") == (
        'invalid ONGOINGAI_AUTH_ENABLED: expected one of 1, t, true, 0, f, false (got "yes")'
    )


def test_the_first_bad_variable_in_the_originals_order_is_reported() -> None:
    message = env_error(ONGOINGAI_AUTH_ENABLED="x", OTEL_SDK_DISABLED="x", ONGOINGAI_PORT="x")
    assert message.startswith("invalid ONGOINGAI_PORT: ")
    assert env_error(ONGOINGAI_AUTH_ENABLED="x", OTEL_SDK_DISABLED="x").startswith(
        "invalid OTEL_SDK_DISABLED: "
    )


def test_empty_values_are_ignored() -> None:
    assert load_env(**dict.fromkeys(ENV_VARS, "")) == load_env()


def test_other_ongoingai_vars_are_not_trimmed() -> None:
    settings = load_env(ONGOINGAI_HOST=" 127.0.0.1 ", ONGOINGAI_PII_MODE=" ")
    assert settings.server.host == " 127.0.0.1 "
    assert settings.pii.mode == " "
    assert env_error(ONGOINGAI_PORT=" 8080").startswith("invalid ONGOINGAI_PORT: ")
    assert env_error(ONGOINGAI_CAPTURE_BODIES="true ").startswith("invalid ONGOINGAI_CAPTURE_BODIES: ")


def test_otel_and_prometheus_vars_are_trimmed() -> None:
    settings = load_env(
        OTEL_EXPORTER_OTLP_ENDPOINT="  http://collector:4318 \n",
        OTEL_SERVICE_NAME="\tgw ",
        OTEL_EXPORTER_OTLP_TIMEOUT=" 250 ",
        OTEL_TRACES_SAMPLER_ARG=" 0.5",
        OTEL_EXPORTER_OTLP_INSECURE=" false ",
        OTEL_METRICS_EXPORTER=" none ",
        ONGOINGAI_PROMETHEUS_ENABLED=" true",
        ONGOINGAI_PROMETHEUS_PATH=" /prom ",
    )
    otel = settings.observability.otel
    assert (otel.endpoint, otel.service_name, otel.export_timeout_ms) == ("http://collector:4318", "gw", 250)
    assert (otel.sampling_ratio, otel.insecure, otel.metrics_enabled) == (0.5, False, False)
    assert (otel.prometheus_enabled, otel.prometheus_path) == (True, "/prom")


def test_whitespace_only_otel_vars_are_empty_and_do_not_enable_otel() -> None:
    settings = load_env(OTEL_SERVICE_NAME="   ", OTEL_SDK_DISABLED=" ", ONGOINGAI_PROMETHEUS_PATH="\t")
    assert settings == load_env()


@pytest.mark.parametrize(("var", "raw"), OTEL_ENABLING_VARS, ids=[v for v, _ in OTEL_ENABLING_VARS])
def test_any_otel_var_turns_otel_on(var: str, raw: str) -> None:
    assert load_env(**{var: raw}).observability.otel.enabled is True


@pytest.mark.parametrize(("var", "raw"), OTEL_ENABLING_VARS, ids=[v for v, _ in OTEL_ENABLING_VARS])
@pytest.mark.parametrize("disabled", ["true", "false"])
def test_otel_sdk_disabled_decides_when_set(var: str, raw: str, disabled: str) -> None:
    settings = load_env(**{var: raw, "OTEL_SDK_DISABLED": disabled})
    assert settings.observability.otel.enabled is (disabled == "false")


def test_otel_env_overrides_yaml_enabled(tmp_path: Path) -> None:
    on = tmp_path / "on.yaml"
    on.write_text("observability:\n  otel:\n    enabled: true\n")
    off = tmp_path / "off.yaml"
    off.write_text("observability:\n  otel:\n    enabled: false\n")
    assert load_settings(on, {"OTEL_SDK_DISABLED": "true"}).observability.otel.enabled is False
    assert load_settings(off, {"OTEL_SERVICE_NAME": "gw"}).observability.otel.enabled is True
    assert load_settings(on, {}).observability.otel.enabled is True


@pytest.mark.parametrize(
    ("raw", "metrics", "prometheus"),
    [
        ("otlp", True, False),
        ("OTLP", True, False),
        ("none", False, False),
        ("None", False, False),
        ("prometheus", False, True),
        ("Prometheus", False, True),
    ],
)
def test_metrics_exporter(raw: str, metrics: bool, prometheus: bool) -> None:
    otel = load_env(OTEL_METRICS_EXPORTER=raw).observability.otel
    assert (otel.metrics_enabled, otel.prometheus_enabled, otel.enabled) == (metrics, prometheus, True)


@pytest.mark.parametrize(
    ("raw", "traces"), [("otlp", True), ("OtLp", True), ("none", False), ("NONE", False)]
)
def test_traces_exporter(raw: str, traces: bool) -> None:
    assert load_env(OTEL_TRACES_EXPORTER=raw).observability.otel.traces_enabled is traces


@pytest.mark.parametrize(
    ("var", "raw", "expected"),
    [
        (
            "OTEL_TRACES_EXPORTER",
            "jaeger",
            'invalid OTEL_TRACES_EXPORTER: must be one of otlp, none (got "jaeger")',
        ),
        (
            "OTEL_TRACES_EXPORTER",
            "prometheus",
            'invalid OTEL_TRACES_EXPORTER: must be one of otlp, none (got "prometheus")',
        ),
        (
            "OTEL_METRICS_EXPORTER",
            " console ",
            'invalid OTEL_METRICS_EXPORTER: must be one of otlp, none, prometheus (got "console")',
        ),
    ],
)
def test_unknown_exporter_is_a_load_error(var: str, raw: str, expected: str) -> None:
    assert env_error(**{var: raw}) == expected


def test_explicit_prometheus_enabled_wins_over_the_prometheus_exporter() -> None:
    otel = load_env(
        OTEL_METRICS_EXPORTER="prometheus", ONGOINGAI_PROMETHEUS_ENABLED="false"
    ).observability.otel
    assert (otel.metrics_enabled, otel.prometheus_enabled) == (False, False)


def test_prometheus_exporter_overrides_yaml_metrics(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("observability:\n  otel:\n    metrics_enabled: true\n    prometheus_enabled: false\n")
    otel = load_settings(path, {"OTEL_METRICS_EXPORTER": "prometheus"}).observability.otel
    assert (otel.metrics_enabled, otel.prometheus_enabled) == (False, True)


def test_env_beats_yaml_key_by_key_in_nested_sections(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "server:\n  host: 10.0.0.1\n  port: 1111\n"
        "tracing:\n  capture_bodies: true\n  writer:\n    queue_capacity: 5\n    batch_size: 6\n"
        "providers:\n  openai:\n    prefix: /oa\n    upstream: http://yaml\n"
        "observability:\n  otel:\n    endpoint: yaml:4318\n    service_name: yaml-name\n"
        "auth:\n  header: X-Yaml\n  keys:\n    - id: k\n      token: t\n"
    )
    settings = load_settings(
        path,
        {
            "ONGOINGAI_PORT": "2222",
            "ONGOINGAI_TRACE_BATCH_SIZE": "7",
            "ONGOINGAI_OPENAI_UPSTREAM": "http://env",
            "OTEL_SERVICE_NAME": "env-name",
            "ONGOINGAI_AUTH_ENABLED": "true",
        },
    )
    assert (settings.server.host, settings.server.port) == ("10.0.0.1", 2222)
    assert settings.tracing.capture_bodies is True
    assert (settings.tracing.writer.queue_capacity, settings.tracing.writer.batch_size) == (5, 7)
    assert (settings.providers.openai.prefix, settings.providers.openai.upstream) == ("/oa", "http://env")
    otel = settings.observability.otel
    assert (otel.endpoint, otel.service_name, otel.enabled) == ("yaml:4318", "env-name", True)
    assert (settings.auth.header, settings.auth.enabled, settings.auth.keys[0].id) == ("X-Yaml", True, "k")


def test_without_an_explicit_mapping_the_process_env_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONGOINGAI_PORT", "7070")
    assert load_settings(NO_FILE).server.port == 7070
