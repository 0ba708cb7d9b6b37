"""Secrets never appear in a repr, a dump or an error message (STYLE 3.5, 3.9).

The secrets: `storage.dsn`, `pii.replacement.hash_salt`, `auth.keys[].token`, `limits.redis_url`.
"""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest

from ongoingai.config import ConfigError, Settings, load_settings, validate_settings

DSN = "postgres://gateway:dsn-Secret-1@db.internal:5432/traces"
SALT = "salt-Secret-2"
TOKEN = "ogk_token-Secret-3"
REDIS = "redis://:redis-Secret-4@cache.internal:6379/0"
SECRET_MARKERS = ("dsn-Secret-1", "salt-Secret-2", "token-Secret-3", "redis-Secret-4")

WITH_SECRETS = f"""
storage:
  driver: postgres
  dsn: "{DSN}"
pii:
  replacement:
    hash_salt: "{SALT}"
auth:
  keys:
    - id: k1
      token: "{TOKEN}"
limits:
  backend: redis
  redis_url: "{REDIS}"
"""


def assert_no_secret(text: str) -> None:
    for marker in SECRET_MARKERS:
        assert marker not in text


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ongoingai.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_secrets_load_but_never_print(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, WITH_SECRETS), {})
    validate_settings(settings)
    assert settings.storage.dsn.get_secret_value() == DSN
    assert settings.pii.replacement.hash_salt.get_secret_value() == SALT
    assert settings.auth.keys[0].token.get_secret_value() == TOKEN
    assert settings.limits.redis_url.get_secret_value() == REDIS
    for text in (repr(settings), str(settings), settings.model_dump_json(), str(settings.model_dump())):
        assert_no_secret(text)
    assert "**********" in repr(settings.auth.keys[0])


def test_env_secrets_never_print() -> None:
    env = {
        "ONGOINGAI_STORAGE_DSN": DSN,
        "ONGOINGAI_PII_HASH_SALT": SALT,
        "ONGOINGAI_REDIS_URL": REDIS,
    }
    assert_no_secret(repr(load_settings("", env)))


# Each config carries all four secrets and breaks one rule; the message must name the rule only.
BROKEN = {
    "yaml-syntax-on-secret-line": WITH_SECRETS.replace(f'dsn: "{DSN}"', f'dsn: "{DSN}'),
    "yaml-tab-after-secret": WITH_SECRETS.replace(f'hash_salt: "{SALT}"', f'hash_salt: "{SALT}"\n\tx: 1'),
    "repeated-secret-key": WITH_SECRETS.replace(
        f'token: "{TOKEN}"', f'token: "{TOKEN}"\n      token: "{TOKEN}"'
    ),
    "unknown-key-next-to-secret": WITH_SECRETS.replace(f'token: "{TOKEN}"', f'tokn: "{TOKEN}"'),
    "secret-of-wrong-type": WITH_SECRETS.replace(f'hash_salt: "{SALT}"', f'hash_salt: ["{SALT}"]'),
    "secret-map": WITH_SECRETS.replace(f'dsn: "{DSN}"', f'dsn: {{value: "{DSN}"}}'),
    "redis-url-bad-scheme": WITH_SECRETS.replace("redis://:redis", "http://:redis"),
    "invalid-role-with-token": WITH_SECRETS.replace("- id: k1", "- id: k1\n      role: root"),
    "bad-driver-with-dsn": WITH_SECRETS.replace("driver: postgres", "driver: pg"),
    "second-document": WITH_SECRETS + "---\n" + WITH_SECRETS,
}


@pytest.mark.parametrize("text", BROKEN.values(), ids=list(BROKEN))
def test_errors_never_quote_a_secret(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_settings(load_settings(write(tmp_path, text), {}))
    assert_no_secret(str(info.value))
    # Nor does a logged traceback of the error (the pydantic/yaml error it replaced is suppressed).
    assert_no_secret("".join(traceback.format_exception(info.value)))


def test_env_errors_never_quote_a_secret() -> None:
    env = {"ONGOINGAI_STORAGE_DSN": DSN, "ONGOINGAI_REDIS_URL": REDIS, "ONGOINGAI_PORT": "x"}
    with pytest.raises(ConfigError) as info:
        load_settings("", env)
    assert_no_secret(str(info.value))


def test_settings_built_directly_mask_secrets_too() -> None:
    settings = Settings.model_validate({"storage": {"dsn": DSN}, "auth": {"keys": [{"token": TOKEN}]}})
    assert_no_secret(repr(settings))
