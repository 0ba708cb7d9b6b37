"""Body redaction (privacy-and-policy.md §5, DEVIATIONS.md "Redaction details"), bypass attempts included."""

from __future__ import annotations

import json

import pytest

from ongoingai.policy import Redactor
from ongoingai.policy.codec import DUPLICATE_KEY, INVALID_UTF8, NOT_JSON, TOO_DEEP, BodyError, dump_json
from ongoingai.policy.placeholders import placeholder_hash
from tests.policy.conftest import make_redactor

EMAIL_W = f"[EMAIL_REDACTED:{placeholder_hash('w', '', 'alice@example.com')}]"


def redact(
    redactor: Redactor, body: bytes | str, **kw: bool
) -> tuple[bytes, dict[str, int], tuple[str, ...]]:
    raw = body.encode() if isinstance(body, str) else body
    result = redactor.redact_body(raw, workspace_id="w", **kw)
    assert result.error == ""
    return result.body, result.counts, result.paths


def test_empty_body_is_empty(redactor: Redactor) -> None:
    result = redactor.redact_body(b"", workspace_id="w", truncated=True)
    assert (result.body, result.counts, result.truncated, result.applied) == (b"", {}, True, False)


def test_unchanged_json_keeps_its_exact_bytes(redactor: Redactor) -> None:
    body = b'{ "model" : "gpt-4o-mini",\n "max_tokens": 100 }'
    assert redactor.redact_body(body, workspace_id="w").body is body


def test_changed_json_is_compact_with_key_order_kept(redactor: Redactor) -> None:
    body = '{ "z": 1, "messages": [ {"content": "mail alice@example.com"} ], "a": [true, null, 1.5] }'
    out, counts, paths = redact(redactor, body)
    assert out.decode() == f'{{"z":1,"messages":[{{"content":"mail {EMAIL_W}"}}],"a":[true,null,1.5]}}'
    assert counts == {"email": 1}
    assert paths == ("$.messages[0].content",)


def test_non_ascii_text_stays_unescaped(redactor: Redactor) -> None:
    out, _, _ = redact(redactor, '{"c":"héllo 👋 alice@example.com"}')
    assert out.decode() == f'{{"c":"héllo 👋 {EMAIL_W}"}}'


def test_json_unicode_escapes_do_not_hide_a_value(redactor: Redactor) -> None:
    out, counts, _ = redact(redactor, r'{"c":"alice\u0040example\u002ecom"}')
    assert counts == {"email": 1}
    assert EMAIL_W in out.decode()


def test_field_values_of_any_type_become_field_placeholders(redactor: Redactor) -> None:
    doc = {"password": "hunter2", "api_key": None, "token": 42, "client_secret": {"a": [1, 2]}, "ssn": True}
    out, counts, paths = redact(redactor, json.dumps(doc))
    got = json.loads(out)
    assert counts == {"field_name": 5}
    assert paths == ("$.password", "$.api_key", "$.token", "$.client_secret", "$.ssn")
    for key, raw in (
        ("password", "hunter2"),
        ("api_key", ""),
        ("token", "42"),
        ("client_secret", '{"a":[1,2]}'),
    ):
        assert got[key] == f"[FIELD_REDACTED:{placeholder_hash('w', '', raw)}]"
    assert got["ssn"] == f"[FIELD_REDACTED:{placeholder_hash('w', '', 'true')}]"


def test_keys_in_any_case_and_separator_are_caught(redactor: Redactor) -> None:
    doc = {"API-KEY": "a", "Api_Key": "b", "apiKey": "c", "ACCESS TOKEN": "d", "max_tokens": 5}
    _, counts, _ = redact(redactor, json.dumps(doc))
    assert counts == {"field_name": 4}


def test_deeply_nested_arrays_are_walked(redactor: Redactor) -> None:
    depth = 200
    body = "[" * depth + '"alice@example.com"' + "]" * depth
    out, counts, paths = redact(redactor, body)
    assert counts == {"email": 1}
    assert out.decode() == "[" * depth + f'"{EMAIL_W}"' + "]" * depth
    assert paths == ("$" + "[0]" * depth,)


def test_nesting_beyond_the_parser_is_an_error_not_a_text_pass(redactor: Redactor) -> None:
    body = b'{"a":' * 100_000 + b'"x"' + b"}" * 100_000
    result = redactor.redact_body(body, workspace_id="w")
    assert (result.error, result.body) == (TOO_DEEP, b"")


def test_duplicate_keys_are_an_error(redactor: Redactor) -> None:
    result = redactor.redact_body(b'{"c":"alice@example.com","c":"hi"}', workspace_id="w")
    assert result.error == DUPLICATE_KEY


def test_invalid_utf8_is_an_error(redactor: Redactor) -> None:
    result = redactor.redact_body(b'{"c":"\xff"}', workspace_id="w")
    assert (result.error, result.body, result.counts) == (INVALID_UTF8, b"", {})


def test_a_truncated_capture_may_end_inside_a_character(redactor: Redactor) -> None:
    body = "héllo alice@example.com é".encode()[:-1]
    result = redactor.redact_body(body, workspace_id="w", truncated=True)
    assert result.error == ""
    assert result.truncated
    assert result.text == f"héllo {EMAIL_W} "
    unchanged = redactor.redact_body("héllo é".encode()[:-1], workspace_id="w", truncated=True)
    assert unchanged.text == "héllo "


def test_invalid_utf8_inside_a_truncated_capture_is_still_an_error(redactor: Redactor) -> None:
    result = redactor.redact_body(b"ab\xffcd", workspace_id="w", truncated=True)
    assert result.error == INVALID_UTF8


def test_non_json_text_gets_a_detector_pass(redactor: Redactor) -> None:
    out, counts, paths = redact(redactor, "Hi, I am alice@example.com")
    assert out.decode() == f"Hi, I am {EMAIL_W}"
    assert counts == {"email": 1}
    assert paths == ()


def test_non_json_is_an_error_when_json_is_required(redactor: Redactor) -> None:
    result = redactor.redact_body(b"not json", workspace_id="w", require_json=True)
    assert result.error == NOT_JSON


def test_a_truncated_json_body_still_hides_denylisted_fields(redactor: Redactor) -> None:
    body = (
        '{"model":"gpt-4o","password":"hunter2","user":{"api_key":"abc","n":[1,{"x":"]"}]},'
        '"token":12,"note":"alice@exa'
    )
    out, counts, _ = redact(redactor, body, truncated=True)
    text = out.decode()
    assert "hunter2" not in text
    assert '"api_key":"[FIELD_REDACTED:' in text
    assert '"token":"[FIELD_REDACTED:' in text
    assert text.endswith('"note":"alice@exa')
    assert counts == {"field_name": 3}


def test_truncated_json_with_a_denylisted_container_cut_short(redactor: Redactor) -> None:
    body = '{"a":1,"client_secret":{"k":"v","z":["x", "y'
    out, counts, _ = redact(redactor, body, truncated=True)
    assert (
        out.decode()
        == '{"a":1,"client_secret":"[FIELD_REDACTED:'
        + placeholder_hash("w", "", '{"k":"v","z":["x", "y')
        + ']"'
    )
    assert counts == {"field_name": 1}


def test_truncated_json_with_a_denylisted_string_cut_short_or_missing(redactor: Redactor) -> None:
    out, counts, _ = redact(redactor, '{"password":"hun', truncated=True)
    assert out.decode() == '{"password":"[FIELD_REDACTED:' + placeholder_hash("w", "", "hun") + ']"'
    out, counts, _ = redact(redactor, '{"password": ', truncated=True)
    assert (out, counts) == (b'{"password": ', {})


def test_truncated_json_leaves_existing_field_placeholders_alone(redactor: Redactor) -> None:
    placeholder = f"[FIELD_REDACTED:{placeholder_hash('w', '', 'x')}]"
    body = f'{{"password":"{placeholder}","secret":"s","x":"'
    out, counts, _ = redact(redactor, body, truncated=True)
    assert out.decode().startswith(f'{{"password":"{placeholder}","secret":"[FIELD_REDACTED:')
    assert counts == {"field_name": 1}


def test_truncated_json_key_with_a_broken_escape_is_taken_raw(redactor: Redactor) -> None:
    out, _, _ = redact(redactor, '{"pass\\qword": "x", "password": "y"}x', truncated=True)
    assert '"pass\\qword": "x"' in out.decode()
    assert '"y"' not in out.decode()


def test_json_scalar_roots(redactor: Redactor) -> None:
    out, counts, paths = redact(redactor, '"alice@example.com"')
    assert (out.decode(), counts, paths) == (f'"{EMAIL_W}"', {"email": 1}, ("$",))
    assert redact(redactor, "12345678901")[1] == {}
    assert redact(redactor, '"plain"')[1] == {}


def test_a_leading_bom_does_not_turn_json_into_text(redactor: Redactor) -> None:
    out, counts, _ = redact(redactor, '\ufeff{"password":"x"}')
    assert counts == {"field_name": 1}
    assert out.startswith(b'{"password":"[FIELD_REDACTED:')


def test_a_lone_surrogate_survives_as_a_json_escape(redactor: Redactor) -> None:
    out, counts, _ = redact(redactor, r'{"a":"\ud800","b":"alice@example.com"}')
    assert counts == {"email": 1}
    assert out.decode() == f'{{"a":"\\ud800","b":"{EMAIL_W}"}}'


def test_raw_control_characters_in_strings_are_accepted(redactor: Redactor) -> None:
    out, counts, _ = redact(redactor, '{"a":"line\nalice@example.com"}')
    assert counts == {"email": 1}
    assert json.loads(out) == {"a": f"line\n{EMAIL_W}"}


def test_matched_paths_never_carry_a_value_even_in_a_key(redactor: Redactor) -> None:
    _, _, paths = redact(redactor, '{"alice@example.com":"bob@example.com","k y":["carol@example.com"]}')
    assert paths == (f'$["{EMAIL_W}"]', '$["k y"][0]')


def test_paths_are_capped_and_deduplicated(redactor: Redactor) -> None:
    doc = {"m": [f"u{i}@example.com" for i in range(150)], "password": "x"}
    _, counts, paths = redact(redactor, json.dumps(doc))
    assert counts == {"email": 150, "field_name": 1}
    assert len(paths) == 100


def test_existing_placeholders_are_untouched_and_not_counted(redactor: Redactor) -> None:
    first, counts, _ = redact(redactor, '{"password":"x","c":"alice@example.com"}')
    assert counts == {"field_name": 1, "email": 1}
    second = redactor.redact_body(first, workspace_id="w")
    assert second.body is first
    assert second.counts == {}


def test_several_secrets_in_one_string_each_get_a_placeholder(redactor: Redactor) -> None:
    text = "a@example.com b@example.com AKIAIOSFODNN7EXAMPLE 123-45-6789"
    out = redactor.redact_text(text, workspace_id="w")
    assert out.counts == {"email": 2, "token_like": 1, "ssn": 1}
    assert redactor.find(out.text) == []


def test_redaction_is_stable_when_a_match_changes_its_neighbours_context() -> None:
    # After the email is replaced its neighbours see a placeholder boundary; a rescan settles the text.
    redactor = make_redactor()
    text = "x@example.com+1 650 253 0000"
    out = redactor.redact_text(text, workspace_id="w").text
    assert redactor.find(out) == []
    assert redactor.redact_text(out, workspace_id="w").text == out


@pytest.mark.parametrize("truncated", [False, True])
def test_truncated_flag_is_reported(redactor: Redactor, truncated: bool) -> None:
    assert redactor.redact_body(b'{"a":1}', workspace_id="w", truncated=truncated).truncated is truncated


def test_truncated_json_with_a_denylisted_container_that_closes(redactor: Redactor) -> None:
    out, counts, _ = redact(redactor, '{"client_secret":{"a":"}"},"x":"alice@exa', truncated=True)
    assert out.decode().startswith('{"client_secret":"[FIELD_REDACTED:')
    assert out.decode().endswith(',"x":"alice@exa')
    assert counts == {"field_name": 1}


def test_serialising_beyond_the_stack_is_an_error() -> None:
    deep: list[object] = []
    node = deep
    for _ in range(100_000):
        child: list[object] = []
        node.append(child)
        node = child
    with pytest.raises(BodyError) as exc:
        dump_json(deep)
    assert str(exc.value) == TOO_DEEP


def test_schema_property_definitions_are_not_data_fields(redactor: Redactor) -> None:
    tool = {
        "name": "send_email",
        "parameters": {
            "type": "object",
            "properties": {
                "email": {"type": "string", "description": "e.g. alice@example.com"},
                "password": {"value": "hunter2"},
                "token": "abc",
            },
            "required": ["email"],
        },
    }
    out, counts, paths = redact(redactor, json.dumps({"tools": [{"type": "function", "function": tool}]}))
    props = json.loads(out)["tools"][0]["function"]["parameters"]["properties"]
    assert props["email"] == {"type": "string", "description": f"e.g. {EMAIL_W}"}
    assert props["password"].startswith("[FIELD_REDACTED:")  # no schema keyword: data, not a schema
    assert props["token"].startswith("[FIELD_REDACTED:")
    assert counts == {"email": 1, "field_name": 2}
    assert paths[0] == "$.tools[0].function.parameters.properties.email.description"
