"""`load_settings(path)`: the only config loader (serve, config validate, doctor, report, debug …).

Order (config-and-cli.md §1): defaults → YAML file (a missing file is fine) → `ONGOINGAI_*`/`OTEL_*`
env overrides applied only when non-empty. Validation is a separate step (`validate_settings`).
The YAML rules follow the original's decoder (gopkg.in/yaml.v3 with known fields): unknown keys,
repeated keys and a second document are errors; a key left empty (`auth:` with nothing under it)
keeps its default.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ongoingai.config.env import env_overrides
from ongoingai.config.errors import ConfigLoadError
from ongoingai.config.settings import Settings

DEFAULT_CONFIG_PATH = "ongoingai.yaml"


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML read the way yaml.v3 reads it: no YAML 1.1 timestamps or yes/no/on/off; no repeated keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        _reject_repeated_keys(node)
        return super().construct_mapping(node, deep=deep)


# `expires_at: 2030-01-01T00:00:00Z` stays the text the operator wrote, and `mode: off` stays "off"
# (model.YamlBool still accepts yes/no/on/off where the key is a bool, as yaml.v3 does).
_BOOL, _TIMESTAMP = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp"
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_BOOL, _TIMESTAMP)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _reject_repeated_keys(node: yaml.MappingNode) -> None:
    seen: dict[str, int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
            continue
        if key_node.value in seen:
            raise yaml.constructor.ConstructorError(
                problem=f'mapping key "{key_node.value}" already defined at line {seen[key_node.value]}',
                problem_mark=key_node.start_mark,
            )
        seen[key_node.value] = key_node.start_mark.line + 1


def read_yaml(path: Path) -> dict[str, Any]:
    """The file's single YAML document as a dict; `{}` for a missing or empty file.

    Raises:
        ConfigLoadError: `read config "<path>": …` or `parse yaml "<path>": …`.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigLoadError(f'read config "{path}": {(exc.strerror or str(exc)).lower()}') from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigLoadError(f'parse yaml "{path}": file is not valid UTF-8') from None
    try:
        documents = yaml.load_all(text, Loader=_StrictLoader)  # a SafeLoader subclass: no arbitrary objects
        data = next(documents, None)
        # A trailing empty document (`---` at the end) is harmless; a second real one is ambiguous.
        if any(extra is not None for extra in documents):
            raise ConfigLoadError(f'parse yaml "{path}": multiple yaml documents are not supported')
    except yaml.YAMLError as exc:
        raise ConfigLoadError(f'parse yaml "{path}": {describe_yaml_error(exc)}') from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigLoadError(f'parse yaml "{path}": the document must be a mapping of config keys')
    return {key: _drop_nulls(value) for key, value in data.items() if value is not None}


def describe_yaml_error(exc: yaml.YAMLError) -> str:
    """Position and problem only: PyYAML's own text quotes the offending line, which may hold a secret."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        return where + (exc.problem or exc.context or "invalid yaml")
    return "invalid yaml"


def _drop_nulls(value: Any) -> Any:
    # yaml.v3 leaves a field at its default when the YAML value is null (`auth:` with nothing below).
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Load `ongoingai.yaml` (or `path`) plus env overrides into frozen Settings.

    An empty `path` reads no file at all (defaults and env only), as the original does.

    Raises:
        ConfigLoadError: the file cannot be read or parsed, an env value is malformed, or a key is
            unknown or has the wrong type. The message names the file or variable and the key, and
            never quotes a value.
    """
    raw_path = DEFAULT_CONFIG_PATH if path is None else str(path)
    yaml_data = read_yaml(Path(raw_path)) if raw_path else {}
    overrides = env_overrides(os.environ if environ is None else environ)
    # One merged source keeps env winning over YAML key by key, including inside nested sections.
    data = _deep_merge(yaml_data, overrides)
    # BaseSettings.__init__ would take top-level keys such as `_env_file` or `_cli_parse_args` as its
    # own arguments instead of rejecting them, so unknown top-level keys are caught before it runs.
    unknown = [f"unknown key {key}" for key in data if key not in Settings.model_fields]
    if unknown:
        raise ConfigLoadError(f'parse yaml "{raw_path}": {"; ".join(unknown)}')
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigLoadError(f'parse yaml "{raw_path}": {format_validation_error(exc)}') from None


def format_validation_error(exc: ValidationError) -> str:
    """`unknown key a.b` / `a.b[0].c: <reason>`, joined by `; `. Input values are never included."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        key = _dotted(err["loc"])
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown key {key}")
        elif err["type"] in ("model_type", "model_attributes_type", "dict_type"):
            parts.append(f"{key}: input should be a mapping of keys")
        else:
            parts.append(f"{key}: {err['msg'][:1].lower()}{err['msg'][1:]}")
    return "; ".join(parts)


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out
