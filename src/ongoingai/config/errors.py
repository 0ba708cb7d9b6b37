"""Config failures: a load error (file, YAML, env, types) and a validation error (a rule broken)."""

from __future__ import annotations


class ConfigError(Exception):
    """Base for config failures; the message is what the CLI prints after its prefix."""


class ConfigLoadError(ConfigError):
    """The config could not be read: CLI prints `failed to load config: <msg>` and exits 1."""


class ConfigInvalidError(ConfigError):
    """The config loaded but breaks a rule: CLI prints `config is invalid: <msg>` and exits 1."""
