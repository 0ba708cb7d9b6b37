"""`auth.keys` loading: hashed at load, startup errors for empty and duplicate tokens (§1–2)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ongoingai.auth.keys import hash_token
from ongoingai.auth.stores import AuthConfigError, StaticKeyStore, load_config_keys
from ongoingai.auth.stores.static import parse_expires_at
from ongoingai.config import Settings


def keys_of(*entries: dict[str, object]) -> Settings:
    return Settings(auth={"keys": list(entries)})  # type: ignore[arg-type]


def test_config_keys_are_hashed_and_normalised() -> None:
    settings = keys_of(
        {
            "id": " k1 ",
            "token": " raw-token ",
            "org_id": "acme",
            "team": "blue",
            "role": "Viewer",
            "permissions": ["Custom:X", ""],
            "expires_at": "2030-01-02T03:04:05Z",
        },
        {"id": "k2", "token": "other"},
    )

    k1, k2 = load_config_keys(settings.auth.keys, strict=True)

    assert (k1.id, k1.token_hash, k1.role, k1.permissions) == (
        "k1",
        hash_token("raw-token"),
        "viewer",
        ("custom:x",),
    )
    assert (k1.org_id, k1.workspace_id, k1.team) == ("acme", "", "blue")
    assert k1.expires_at == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert (k2.role, k2.expires_at) == ("developer", None)


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"id": "a", "token": "  "}], "gateway key token cannot be empty"),
        (
            [{"id": "a", "token": "t"}, {"id": "b", "token": " t "}],
            "duplicate gateway key token in auth config",
        ),
        ([{"id": "a", "token": "t", "role": "root"}], 'auth.keys[0].role: invalid role "root"'),
        (
            [{"id": "a", "token": "t", "expires_at": "tomorrow"}],
            "auth.keys[0].expires_at must be an RFC 3339 timestamp",
        ),
    ],
    ids=["empty", "duplicate", "role", "expires_at"],
)
def test_unusable_config_keys_are_startup_errors_when_strict(
    entries: list[dict[str, object]], message: str
) -> None:
    with pytest.raises(AuthConfigError) as caught:
        load_config_keys(keys_of(*entries).auth.keys, strict=True)

    assert str(caught.value) == message
    assert "t" not in str(caught.value).split()  # never the token itself


def test_unusable_config_keys_are_skipped_when_auth_is_off() -> None:
    settings = keys_of(
        {"id": "empty", "token": ""},
        {"id": "a", "token": "t"},
        {"id": "dup", "token": "t"},
        {"id": "bad-role", "token": "u", "role": ""},
    )

    assert [k.id for k in load_config_keys(settings.auth.keys, strict=False)] == ["a"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, None),
        ("", None),
        ("2030-01-02T03:04:05+02:00", datetime(2030, 1, 2, 1, 4, 5, tzinfo=UTC)),
        ("2030-01-02t03:04:05z", datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2030-01-02T03:04:05", datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ],
    ids=["none", "empty", "offset", "lower-case", "naive"],
)
def test_expires_at_parses_to_utc(text: str | None, expected: datetime | None) -> None:
    assert parse_expires_at(text) == expected


async def test_the_static_store_serves_its_keys() -> None:
    keys = load_config_keys(keys_of({"id": "a", "token": "t"}).auth.keys, strict=True)

    assert [k.id for k in await StaticKeyStore(keys).active_keys()] == ["a"]
