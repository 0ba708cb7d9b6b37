"""The `ongoingai.yaml` key tree as frozen pydantic models: defaults and types only.

Cross-field rules (the spec's ordered validation messages) live in `validate.py`; where the
values come from (YAML, env) lives in `load.py`. Key names follow ../shared/spec/config-and-cli.md §2
and DEVIATIONS.md exactly, so a config written for the original gateway loads here unchanged.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

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


class Section(BaseModel):
    """Base for every config section: unknown keys are an error, values never change after load."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(Section):
    host: str = "0.0.0.0"  # noqa: S104 - listening on all interfaces is the documented default
    port: int = 8080
    max_request_body_bytes: int = 33_554_432


class PoolSettings(Section):
    min_size: int = 2
    max_size: int = 20


class StorageSettings(Section):
    driver: str = "sqlite"
    path: str = "./data/ongoingai.db"
    dsn: SecretStr = SecretStr("")
    pool: PoolSettings = PoolSettings()


class TimeoutSettings(Section):
    """Upstream timeouts in seconds (DEVIATIONS.md): long reasoning calls must survive."""

    connect: float = 10.0
    first_byte: float = 600.0
    idle: float = 300.0


class ProviderSettings(Section):
    upstream: str
    prefix: str
    timeout: TimeoutSettings = TimeoutSettings()


class ProvidersSettings(Section):
    openai: ProviderSettings = ProviderSettings(upstream="https://api.openai.com", prefix="/openai")
    anthropic: ProviderSettings = ProviderSettings(upstream="https://api.anthropic.com", prefix="/anthropic")


class WriterSettings(Section):
    queue_capacity: int = 1024
    batch_size: int = 64
    flush_interval_ms: int = 200


class SpillSettings(Section):
    path: str = ""  # empty → "<dir of storage.path or ./data>/spill"
    max_bytes: int = 268_435_456


class TracingSettings(Section):
    capture_bodies: bool = False
    body_max_size: int = DEFAULT_BODY_MAX_SIZE
    writer: WriterSettings = WriterSettings()
    spill: SpillSettings = SpillSettings()

    @property
    def effective_body_max_size(self) -> int:
        # config-and-cli.md §2: no validation, ≤ 0 means the default at runtime.
        return self.body_max_size if self.body_max_size > 0 else DEFAULT_BODY_MAX_SIZE


class OtelSettings(Section):
    enabled: bool = False
    endpoint: str = "localhost:4318"
    insecure: bool = True
    service_name: str = "ongoingai-gateway"
    traces_enabled: bool = True
    metrics_enabled: bool = True
    prometheus_enabled: bool = False
    prometheus_path: str = "/metrics"
    sampling_ratio: float = 1.0
    export_timeout_ms: int = 3000
    metric_export_interval_ms: int = 10000


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
    request_headers: bool = True
    request_body: bool = True
    response_headers: bool = True
    response_body: bool = True


class PiiDetectors(Section):
    email: bool = True
    phone: bool = True
    ssn: bool = True
    token_like: bool = True
    payment_card: bool = True
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
    refresh_interval_s: float = 30.0
    max_staleness_s: float = 60.0


class AuthSettings(Section):
    enabled: bool = False
    header: str = "X-OngoingAI-Gateway-Key"
    key_store: str = "config"
    cache: AuthCacheSettings = AuthCacheSettings()
    keys: tuple[GatewayKeyConfig, ...] = ()


class LimitRule(Section):
    requests_per_minute: int = 0
    max_tokens_per_day: int = 0
    max_cost_usd_per_day: float = 0.0
    max_concurrent_requests: int = 0


class LimitsSettings(Section):
    per_key: LimitRule = LimitRule()
    per_workspace: LimitRule = LimitRule()
    backend: str = "memory"
    redis_url: SecretStr = SecretStr("")


class PriceOverride(Section):
    """USD per 1M tokens; fields left out fall back to the input/output rate as the price table does."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None


class PricingSettings(Section):
    overrides: dict[str, PriceOverride] = Field(default_factory=dict)


class LoggingSettings(Section):
    level: str = "info"
    format: str = "json"

    @field_validator("level", "format")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()
