"""Configuration: the key tree (model.py), loading from YAML + env (load.py), rules (validate.py)."""

from ongoingai.config.errors import ConfigError, ConfigInvalidError, ConfigLoadError
from ongoingai.config.load import DEFAULT_CONFIG_PATH, load_settings
from ongoingai.config.settings import Settings
from ongoingai.config.validate import validate_settings

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "ConfigError",
    "ConfigInvalidError",
    "ConfigLoadError",
    "Settings",
    "load_settings",
    "validate_settings",
]
