"""Config loading for commands: `load_settings` (+ `validate_settings`) with the CLI's messages and exit 1."""

from __future__ import annotations

from ongoingai.cli.output import fail
from ongoingai.config import (
    ConfigInvalidError,
    ConfigLoadError,
    Settings,
    load_settings,
    validate_settings,
)

LOAD_FAILED = "failed to load config"
INVALID = "config is invalid"


def load_config(
    config_path: str, *, validate: bool = True, load_failed_prefix: str = LOAD_FAILED
) -> Settings:
    """Load (and by default validate) the config, or exit 1 with the spec's message on stderr.

    `serve` reports `failed to load config: …` / `config is invalid: …`; `config validate` passes
    `load_failed_prefix=INVALID` because it reports both kinds as invalid; `shell-init` and `wrap`
    pass `validate=False` (config-and-cli.md §4).

    Raises:
        typer.Exit: code 1 when the config cannot be loaded or breaks a rule.
    """
    try:
        settings = load_settings(config_path)
    except ConfigLoadError as exc:
        fail(f"{load_failed_prefix}: {exc}")
    if validate:
        try:
            validate_settings(settings)
        except ConfigInvalidError as exc:
            fail(f"{INVALID}: {exc}")
    return settings
