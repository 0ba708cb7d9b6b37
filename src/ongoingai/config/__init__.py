"""Configuration: key tree (model.py, settings.py), YAML + env loading (load.py, env.py), rules (validate.py).

Entry points: `load_settings(path)`, then `validate_settings(settings)`; the CLI wraps both (cli/loading.py).
"""

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
