"""YAML loading (config-and-cli.md §1): missing/empty files, strictness, error prefixes, types."""

from __future__ import annotations

from pathlib import Path

import pytest

from ongoingai.config import DEFAULT_CONFIG_PATH, ConfigLoadError, Settings, load_settings

NO_ENV: dict[str, str] = {}


def write(tmp_path: Path, text: str | bytes, name: str = "ongoingai.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path) -> str:
    with pytest.raises(ConfigLoadError) as info:
        load_settings(path, NO_ENV)
    return str(info.value)


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    assert load_settings(tmp_path / "absent.yaml", NO_ENV) == Settings()


def test_default_path_is_ongoingai_yaml_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "server:\n  port: 9999\n", name=DEFAULT_CONFIG_PATH)
    assert DEFAULT_CONFIG_PATH == "ongoingai.yaml"
    assert load_settings(None, NO_ENV).server.port == 9999


def test_empty_path_reads_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "server:\n  port: 9999\n", name=DEFAULT_CONFIG_PATH)
    assert load_settings("", NO_ENV) == Settings()


@pytest.mark.parametrize(
    "text",
    ["", "\n\n", "# only a comment\n", "---\n", "~\n"],
    ids=["empty", "blank-lines", "comment", "bare-document-marker", "null-document"],
)
def test_empty_file_gives_defaults(tmp_path: Path, text: str) -> None:
    assert load_settings(write(tmp_path, text), NO_ENV) == Settings()


def test_a_section_left_empty_keeps_its_defaults(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "auth:\nserver:\n  port: 9090\n  host:\n"), NO_ENV)
    assert settings.auth == Settings().auth
    assert settings.server.host == "0.0.0.0"
    assert settings.server.port == 9090


def test_yaml_overrides_one_key_and_keeps_its_siblings(tmp_path: Path) -> None:
    text = (
        "server:\n  port: 9090\n"
        "tracing:\n  writer:\n    batch_size: 8\n"
        "observability:\n  otel:\n    enabled: true\n"
    )
    settings = load_settings(write(tmp_path, text), NO_ENV)
    assert (settings.server.host, settings.server.port) == ("0.0.0.0", 9090)
    assert (settings.tracing.writer.batch_size, settings.tracing.writer.queue_capacity) == (8, 1024)
    assert settings.observability.otel.enabled is True
    assert settings.observability.otel.service_name == "ongoingai-gateway"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("providers:\n  openai:\n    prefix: /gw/openai\n", ("/gw/openai", "https://api.openai.com")),
        ("providers:\n  anthropic:\n    prefix: /claude\n", ("/claude", "https://api.anthropic.com")),
        ("providers:\n  openai:\n    upstream: http://127.0.0.1:1\n", ("/openai", "http://127.0.0.1:1")),
    ],
    ids=["openai-prefix-only", "anthropic-prefix-only", "openai-upstream-only"],
)
def test_a_provider_section_keeps_that_providers_other_defaults(
    tmp_path: Path, text: str, expected: tuple[str, str]
) -> None:
    settings = load_settings(write(tmp_path, text), NO_ENV)
    provider = settings.providers.anthropic if "anthropic" in text else settings.providers.openai
    assert (provider.prefix, provider.upstream) == expected


def test_lists_replace_the_default_list(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "pii:\n  headers:\n    denylist: [x-secret]\n"), NO_ENV)
    assert settings.pii.headers.denylist == ("x-secret",)


def test_full_key_lists_load(tmp_path: Path) -> None:
    text = """
auth:
  enabled: true
  keys:
    - id: key-1
      token: tok-1
      org_id: org-a
      workspace_id: ws-a
      team: team-a
      name: CI
      description: the CI key
      created_by: ops
      role: admin
      permissions: [analytics:read]
      expires_at: 2030-01-01T00:00:00Z
pii:
  scopes:
    - match: {org_id: org-a, provider: openai, route_prefix: /openai/v1}
      mode: block
      policy_id: strict/v2
pricing:
  overrides:
    my-model: {input: 1.5, output: 2}
"""
    settings = load_settings(write(tmp_path, text), NO_ENV)
    key = settings.auth.keys[0]
    assert (key.id, key.token.get_secret_value(), key.role, key.permissions) == (
        "key-1",
        "tok-1",
        "admin",
        ("analytics:read",),
    )
    # PyYAML would turn the timestamp into a datetime; the model keeps the text the operator wrote.
    assert key.expires_at == "2030-01-01T00:00:00Z"
    assert settings.pii.scopes[0].match.route_prefix == "/openai/v1"
    assert settings.pricing.overrides["my-model"].output == 2.0


def test_numbers_written_where_text_is_expected_are_text(tmp_path: Path) -> None:
    text = "auth:\n  keys:\n    - id: 7\n      token: 123456\n      org_id: 42\n"
    key = load_settings(write(tmp_path, text), NO_ENV).auth.keys[0]
    assert (key.id, key.token.get_secret_value(), key.org_id) == ("7", "123456", "42")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bogus: 1\n", "unknown key bogus"),
        ("server:\n  bogus: 1\n", "unknown key server.bogus"),
        ("observability:\n  otel:\n    endpiont: x\n", "unknown key observability.otel.endpiont"),
        ("auth:\n  keys:\n    - id: a\n      tokn: b\n", "unknown key auth.keys[0].tokn"),
        ("pii:\n  scopes:\n    - match: {org: a}\n", "unknown key pii.scopes[0].match.org"),
        (
            # `max_concurrent_requests` is a key since issue 8; this one is not.
            "limits:\n  per_key:\n    requests_per_hour: 1\n",
            "unknown key limits.per_key.requests_per_hour",
        ),
        # BaseSettings would take these as constructor arguments if they reached it.
        ("_env_file: .env\n", "unknown key _env_file"),
        ("_cli_parse_args: true\n", "unknown key _cli_parse_args"),
    ],
    ids=[
        "top",
        "nested",
        "deep",
        "list-item",
        "scope-match",
        "unspecified-limit",
        "_env_file",
        "_cli_parse_args",
    ],
)
def test_unknown_key_is_an_error_naming_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    assert load_error(path) == f'parse yaml "{path}": {expected}'


def test_several_unknown_keys_are_all_named(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  a: 1\n  b: 2\n")
    assert load_error(path) == f'parse yaml "{path}": unknown key server.a; unknown key server.b'


@pytest.mark.parametrize(
    "text",
    [
        "server:\n  port: 1\n---\nserver:\n  port: 2\n",
        "---\n---\nserver:\n  port: 2\n",
        "server:\n  port: 1\n---\n---\nstorage:\n  driver: postgres\n",
    ],
    ids=["two-documents", "empty-then-real", "real-empty-real"],
)
def test_more_than_one_yaml_document_is_an_error(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    assert load_error(path) == f'parse yaml "{path}": multiple yaml documents are not supported'


def test_a_trailing_empty_document_is_accepted(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, "server:\n  port: 1234\n---\n"), NO_ENV).server.port == 1234


def test_a_repeated_key_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  port: 1\n  port: 2\n")
    assert (
        load_error(path)
        == f'parse yaml "{path}": line 3, column 3: mapping key "port" already defined at line 2'
    )


def test_merge_keys_are_not_repeated_keys(tmp_path: Path) -> None:
    text = (
        "providers:\n"
        "  openai: &slow\n"
        "    timeout: {connect: 5, idle: 900}\n"
        "  anthropic:\n"
        "    <<: *slow\n"
        "    timeout: {connect: 7}\n"
        "    prefix: /claude\n"
    )
    settings = load_settings(write(tmp_path, text), NO_ENV)
    assert settings.providers.openai.timeout.idle == 900.0
    assert (settings.providers.anthropic.prefix, settings.providers.anthropic.timeout.connect) == (
        "/claude",
        7.0,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("server:\n  port: [1\n", "line 3, column 1: "),
        ("server:\n\tport: 1\n", "line 2, column 1: found character '\\t' that cannot start any token"),
        ('storage:\n  dsn: "unterminated\n', "line 3, column 1: found unexpected end of stream"),
        ("a: b: c\n", "line 1, column 5: mapping values are not allowed here"),
    ],
    ids=["unclosed-flow", "tab", "unterminated-quote", "nested-colon"],
)
def test_syntax_errors_are_prefixed_parse_yaml(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    assert load_error(path).startswith(f'parse yaml "{path}": {expected}')


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n", "42\n"], ids=["list", "string", "number"])
def test_a_document_that_is_not_a_mapping_is_an_error(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    assert load_error(path) == f'parse yaml "{path}": the document must be a mapping of config keys'


def test_invalid_utf8_is_a_parse_error(tmp_path: Path) -> None:
    path = write(tmp_path, b"server:\n  host: \xff\xfe\n")
    assert load_error(path) == f'parse yaml "{path}": file is not valid UTF-8'


def test_an_unreadable_path_is_a_read_error(tmp_path: Path) -> None:
    path = tmp_path / "a-directory.yaml"
    path.mkdir()
    assert load_error(path) == f'read config "{path}": is a directory'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("server:\n  port: abc\n", "server.port: input should be a valid integer"),
        ("server:\n  port: '8080'\n", "server.port: input should be a valid integer"),
        ("server:\n  port: true\n", "server.port: input should be a valid integer"),
        ("server:\n  port: 80.5\n", "server.port: input should be a valid integer"),
        ("server: 5\n", "server: input should be a mapping of keys"),
        ("tracing:\n  capture_bodies: 'true'\n", "tracing.capture_bodies: input should be a valid boolean"),
        ("tracing:\n  capture_bodies: maybe\n", "tracing.capture_bodies: input should be a valid boolean"),
        ("tracing:\n  capture_bodies: 1\n", "tracing.capture_bodies: input should be a valid boolean"),
        (
            "observability:\n  otel:\n    sampling_ratio: half\n",
            "observability.otel.sampling_ratio: input should be a valid number",
        ),
        (
            "pii:\n  headers:\n    denylist: authorization\n",
            "pii.headers.denylist: input should be a valid tuple",
        ),
        (
            "pii:\n  headers:\n    denylist: [a, [b]]\n",
            "pii.headers.denylist[1]: input should be a valid string",
        ),
        ("auth:\n  keys: {id: a}\n", "auth.keys: input should be a valid tuple"),
        ("auth:\n  keys: [a]\n", "auth.keys[0]: input should be a mapping of keys"),
        ("auth:\n  header: [x]\n", "auth.header: input should be a valid string"),
        ("pricing:\n  overrides:\n    m: {input: 1}\n", "pricing.overrides.m.output: field required"),
    ],
    ids=[
        "int-from-word",
        "int-from-quoted",
        "int-from-bool",
        "int-from-fraction",
        "section-from-scalar",
        "bool-from-quoted",
        "bool-from-word",
        "bool-from-int",
        "float-from-word",
        "list-from-scalar",
        "list-item",
        "key-list-from-map",
        "key-from-scalar",
        "str-from-list",
        "missing-rate",
    ],
)
def test_wrong_type_is_a_load_error_naming_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    assert load_error(path) == f'parse yaml "{path}": {expected}'


def test_yes_no_on_off_are_text_except_where_the_key_is_a_bool(tmp_path: Path) -> None:
    # yaml.v3 semantics: the original reads `mode: off` as the text "off", and `enabled: on` as true.
    text = (
        "pii:\n  mode: off\n  policy_id: yes\n  stages:\n    request_body: no\n"
        "tracing:\n  capture_bodies: Yes\n"
        "auth:\n  enabled: ON\n"
        "observability:\n  otel:\n    insecure: n\n    traces_enabled: y\n"
    )
    settings = load_settings(write(tmp_path, text), NO_ENV)
    assert (settings.pii.mode, settings.pii.policy_id) == ("off", "yes")
    assert settings.effective_pii_mode == "off"
    assert settings.pii.stages.request_body is False
    assert (settings.tracing.capture_bodies, settings.auth.enabled) == (True, True)
    assert (settings.observability.otel.insecure, settings.observability.otel.traces_enabled) == (False, True)


@pytest.mark.parametrize("word", ["true", "True", "TRUE", "false", "False", "FALSE"])
def test_yaml_12_booleans(tmp_path: Path, word: str) -> None:
    settings = load_settings(write(tmp_path, f"tracing:\n  capture_bodies: {word}\n"), NO_ENV)
    assert settings.tracing.capture_bodies is (word.lower() == "true")


def test_ints_are_accepted_for_float_keys(tmp_path: Path) -> None:
    text = "observability:\n  otel:\n    sampling_ratio: 1\n"
    text += "providers:\n  openai:\n    timeout:\n      idle: 30\n"
    settings = load_settings(write(tmp_path, text), NO_ENV)
    assert settings.observability.otel.sampling_ratio == 1.0
    assert settings.providers.openai.timeout.idle == 30.0


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ""), NO_ENV)
    with pytest.raises(ValueError, match="frozen"):
        settings.server.port = 1  # type: ignore[misc]
