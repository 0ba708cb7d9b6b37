"""Root `Settings`: the whole key tree, with sources ordered init > env > YAML > defaults."""

from __future__ import annotations

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ongoingai.config.model import (
    AuthSettings,
    LimitsSettings,
    LoggingSettings,
    ObservabilitySettings,
    PiiSettings,
    PricingSettings,
    ProvidersSettings,
    ServerSettings,
    StorageSettings,
    TracingSettings,
)


class Settings(BaseSettings):
    """Everything `ongoingai.yaml` can say. Build it with `load_settings`, never directly from the env."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True)

    server: ServerSettings = ServerSettings()
    storage: StorageSettings = StorageSettings()
    providers: ProvidersSettings = ProvidersSettings()
    tracing: TracingSettings = TracingSettings()
    observability: ObservabilitySettings = ObservabilitySettings()
    pii: PiiSettings = PiiSettings()
    auth: AuthSettings = AuthSettings()
    limits: LimitsSettings = LimitsSettings()
    pricing: PricingSettings = PricingSettings()
    logging: LoggingSettings = LoggingSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The generic env/dotenv sources are replaced by the spec's explicit env table (load.py):
        # spec env names follow no nesting convention, and unknown env vars must not leak in.
        return (init_settings,)

    @property
    def effective_pii_mode(self) -> str:
        """`pii.mode` trimmed and lower-cased; empty → `redact_storage` if bodies are captured, else `off`."""
        mode = self.pii.mode.strip().lower()
        if mode:
            return mode
        return "redact_storage" if self.tracing.capture_bodies else "off"
