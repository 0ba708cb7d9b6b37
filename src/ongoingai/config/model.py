"""The `ongoingai.yaml` key tree as frozen pydantic models: defaults and types only.

Cross-field rules (the spec's ordered validation messages) live in `validate.py`; where the
values come from (YAML, env) lives in `load.py`. Key names follow ../shared/spec/config-and-cli.md §2
and DEVIATIONS.md exactly, so a config written for the original gateway loads here unchanged.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    Strict,
    StrictFloat,
    StrictInt,
    field_validator,
)

DEFAULT_BODY_MAX_SIZE = 1_048_576
DEFAULT_HEADER_DENYLIST = ("authorization", "cookie", "set-cookie", "x-api-key", "x-ongoingai-gateway-key")
# DEVIATIONS.md "Field-name redaction": normalised-key match, explicit `*` for suffix/prefix.
DEFAULT_KEY_DENYLIST = (
    "*email",
    "*phone",
    "*password",
    "*token",
    "*secret",
    "ssn",
    "*apikey",
    "authorization",
    "*privatekey",
)


# The loader reads YAML 1.2 booleans only (`mode: off` is the text "off", as in the original's yaml.v3);
# like yaml.v3, a key whose type is bool still accepts the YAML 1.1 words.
_YAML11_BOOL_WORDS = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "off", "Off", "OFF"), False),
}


def _yaml11_bool(value: object) -> object:
    return _YAML11_BOOL_WORDS.get(value, value) if isinstance(value, str) else value


YamlBool = Annotated[bool, Strict(), BeforeValidator(_yaml11_bool)]


class Section(BaseModel):
    """Base for every config section: unknown keys are an error, values never change after load.

    Numbers and booleans are strict (`port: "80"` and `capture_bodies: 1` are type errors, as in the
    original's YAML decoder); a number written where text is expected (`org_id: 42`) is text.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class ServerSettings(Section):
    host: str = "0.0.0.0"  # noqa: S104 - listening on all interfaces is the documented default
    port: StrictInt = 8080
    max_request_body_bytes: StrictInt = 33_554_432


class PoolSettings(Section):
    min_size: StrictInt = 2
    max_size: StrictInt = 20


class StorageSettings(Section):
    driver: str = "sqlite"
    path: str = "./data/ongoingai.db"
    dsn: SecretStr = SecretStr("")
    pool: PoolSettings = PoolSettings()

    @field_validator("driver")
    @classmethod
    def _trim_driver(cls, value: str) -> str:
        # The original switches on the trimmed driver; consumers compare it verbatim.
        return value.strip()


class TimeoutSettings(Section):
    """Upstream timeouts in seconds (DEVIATIONS.md): long reasoning calls must survive."""

    connect: StrictFloat = 10.0
    first_byte: StrictFloat = 600.0
    idle: StrictFloat = 300.0


class ProviderSettings(Section):
    upstream: str
    prefix: str
    timeout: TimeoutSettings = TimeoutSettings()


# One class per provider so that a YAML section that sets only `prefix` keeps that provider's default
# upstream (the original decodes YAML onto its defaults field by field).
class OpenAISettings(ProviderSettings):
    upstream: str = "https://api.openai.com"
    prefix: str = "/openai"


class AnthropicSettings(ProviderSettings):
    upstream: str = "https://api.anthropic.com"
    prefix: str = "/anthropic"


class ProvidersSettings(Section):
    openai: OpenAISettings = OpenAISettings()
    anthropic: AnthropicSettings = AnthropicSettings()


class WriterSettings(Section):
    queue_capacity: StrictInt = 1024
    batch_size: StrictInt = 64
    flush_interval_ms: StrictInt = 200


class SpillSettings(Section):
    path: str = ""  # empty → `<dir of storage.path or ./data>/spill`: sink.default_spill_path(settings)
    max_bytes: StrictInt = 268_435_456


class TracingSettings(Section):
    capture_bodies: YamlBool = False
    body_max_size: StrictInt = DEFAULT_BODY_MAX_SIZE
    writer: WriterSettings = WriterSettings()
    spill: SpillSettings = SpillSettings()

    @property
    def effective_body_max_size(self) -> int:
        # config-and-cli.md §2: no validation, ≤ 0 means the default at runtime.
        return self.body_max_size if self.body_max_size > 0 else DEFAULT_BODY_MAX_SIZE


class OtelSettings(Section):
    enabled: YamlBool = False
    endpoint: str = "localhost:4318"
    insecure: YamlBool = True
    service_name: str = "ongoingai-gateway"
    traces_enabled: YamlBool = True
    metrics_enabled: YamlBool = True
    prometheus_enabled: YamlBool = False
    prometheus_path: str = "/metrics"
    sampling_ratio: StrictFloat = 1.0
    export_timeout_ms: StrictInt = 3000
    metric_export_interval_ms: StrictInt = 10000


class ObservabilitySettings(Section):
    otel: OtelSettings = OtelSettings()


class PiiScopeMatch(Section):
    org_id: str = ""
    workspace_id: str = ""
    key_id: str = ""
    provider: str = ""
    route_prefix: str = ""


class PiiScope(Section):
    match: PiiScopeMatch = PiiScopeMatch()
    mode: str = ""
    policy_id: str = ""


class PiiStages(Section):
    request_headers: YamlBool = True
    request_body: YamlBool = True
    response_headers: YamlBool = True
    response_body: YamlBool = True


class PiiDetectors(Section):
    email: YamlBool = True
    phone: YamlBool = True
    ssn: YamlBool = True
    token_like: YamlBool = True
    payment_card: YamlBool = True
    phone_region: str = "US"


class PiiHeaders(Section):
    denylist: tuple[str, ...] = DEFAULT_HEADER_DENYLIST


class PiiBody(Section):
    key_denylist: tuple[str, ...] = DEFAULT_KEY_DENYLIST
    path_rules: tuple[str, ...] = ()


class PiiReplacement(Section):
    format: str = "[{type}_REDACTED:{hash}]"
    hash_salt: SecretStr = SecretStr("")


class PiiSettings(Section):
    mode: str = ""
    policy_id: str = "default/v1"
    scopes: tuple[PiiScope, ...] = ()
    stages: PiiStages = PiiStages()
    detectors: PiiDetectors = PiiDetectors()
    headers: PiiHeaders = PiiHeaders()
    body: PiiBody = PiiBody()
    replacement: PiiReplacement = PiiReplacement()


class GatewayKeyConfig(Section):
    id: str = ""
    token: SecretStr = SecretStr("")
    org_id: str = ""
    workspace_id: str = ""
    team: str = ""
    name: str = ""
    description: str = ""
    created_by: str = ""
    role: str | None = None  # omitted → developer; "" or unknown → rejected (DEVIATIONS.md)
    permissions: tuple[str, ...] = ()
    expires_at: str | None = None


class AuthCacheSettings(Section):
    refresh_interval_s: StrictFloat = 30.0
    max_staleness_s: StrictFloat = 60.0


class AuthSettings(Section):
    enabled: YamlBool = False
    header: str = "X-OngoingAI-Gateway-Key"
    key_store: str = "config"
    cache: AuthCacheSettings = AuthCacheSettings()
    keys: tuple[GatewayKeyConfig, ...] = ()


class LimitRule(Section):
    """Thresholds of one scope (limits.md §1); a value <= 0 disables that threshold."""

    requests_per_minute: StrictInt = 0
    max_tokens_per_day: StrictInt = 0
    max_cost_usd_per_day: StrictFloat = 0.0
    max_concurrent_requests: StrictInt = 0  # issue 8: in-flight proxied requests (docs/limits.md)


class LimitsSettings(Section):
    per_key: LimitRule = LimitRule()
    per_workspace: LimitRule = LimitRule()
    backend: str = "memory"
    redis_url: SecretStr = SecretStr("")


class PriceOverride(Section):
    """USD per 1M tokens; fields left out fall back to the input/output rate as the price table does."""

    input: StrictFloat
    output: StrictFloat
    cached_input: StrictFloat | None = None
    cache_write: StrictFloat | None = None
    reasoning: StrictFloat | None = None


class PricingSettings(Section):
    overrides: dict[str, PriceOverride] = Field(default_factory=dict)


class LoggingSettings(Section):
    level: str = "info"
    format: str = "json"

    @field_validator("level", "format")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()
