"""Prefix normalisation, matching and upstream URL joining (proxy.md §2–3)."""

from __future__ import annotations

import pytest

from ongoingai.config import Settings
from ongoingai.providers.routes import build_routes, match_route, normalise_prefix, path_matches


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("/openai", "/openai"),
        ("openai", "/openai"),
        ("  /openai/ ", "/openai"),
        ("", "/"),
        ("///", "/"),
        ("/", "/"),
    ],
    ids=["plain", "no-leading-slash", "spaces-trailing", "empty", "slashes", "root"],
)
def test_normalise_prefix(raw: str, normalised: str) -> None:
    assert normalise_prefix(raw) == normalised


@pytest.mark.parametrize(
    ("path", "prefix", "matches"),
    [
        ("/openai", "/openai", True),
        ("/openai/v1/chat/completions", "/openai", True),
        ("/openaiish/v1", "/openai", False),
        ("/ai/anthropic/v1/messages", "/ai/anthropic", True),
        ("/anything", "/", True),
    ],
    ids=["exact", "under", "not-a-boundary", "nested-prefix", "root-matches-all"],
)
def test_path_matches(path: str, prefix: str, matches: bool) -> None:
    assert path_matches(path, prefix) is matches


def settings(**providers: dict[str, str]) -> Settings:
    return Settings(providers=providers)


@pytest.mark.parametrize(
    ("upstream", "path", "query", "url"),
    [
        ("https://api.openai.com", "/openai", "", "https://api.openai.com/"),
        (
            "https://api.openai.com",
            "/openai/v1/chat/completions",
            "",
            "https://api.openai.com/v1/chat/completions",
        ),
        ("https://h.example/base/", "/openai/v1/x", "a=1", "https://h.example/base/v1/x?a=1"),
        ("https://h.example/base?k=v", "/openai/v1/x", "a=1", "https://h.example/base/v1/x?k=v&a=1"),
        ("http://127.0.0.1:9000", "/openai/v1/a%2Fb", "", "http://127.0.0.1:9000/v1/a%2Fb"),
    ],
    ids=["exact-prefix", "plain", "base-path-and-query", "upstream-query-joined", "encoded-path-kept"],
)
def test_upstream_url(upstream: str, path: str, query: str, url: str) -> None:
    (route, _) = build_routes(settings(openai={"upstream": upstream, "prefix": "openai"}))
    assert route.upstream_url(path, query) == url


def test_openai_is_tried_first_and_unmatched_paths_fall_through() -> None:
    routes = build_routes(
        settings(
            openai={"upstream": "http://a", "prefix": "/"},
            anthropic={"upstream": "http://b", "prefix": "/anthropic"},
        )
    )
    route = match_route(routes, "/anthropic/v1/messages")
    assert route is not None and route.name == "openai"
    default = build_routes(Settings())
    assert match_route(default, "/api/health") is None
    matched = match_route(default, "/anthropic/v1/messages")
    assert matched is not None and matched.name == "anthropic"
