"""Provider routes: prefix normalisation and matching (proxy.md §2), upstream URL joining (§3)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from ongoingai.config import Settings
from ongoingai.config.model import TimeoutSettings

PROVIDERS = ("openai", "anthropic")  # matched in this order; first match wins


def normalise_prefix(prefix: str) -> str:
    """Trim; empty → `/`; add a leading `/`; strip trailing slashes (except `/` itself)."""
    p = prefix.strip()
    if not p:
        return "/"
    if not p.startswith("/"):
        p = "/" + p
    stripped = p.rstrip("/")
    return stripped or "/"


def path_matches(path: str, prefix: str) -> bool:
    """A path matches a normalised prefix when equal to it or under it at a segment boundary."""
    if prefix == "/":
        return True
    return path == prefix or path.startswith(prefix + "/")


@dataclass(frozen=True, slots=True)
class ProviderRoute:
    name: str
    prefix: str  # normalised
    upstream: str  # as configured
    origin: str  # scheme://host[:port]
    base_path: str  # upstream path without trailing slash ("" for none)
    base_query: str
    timeout: TimeoutSettings

    def upstream_url(self, path: str, query: str) -> str:
        """Strip the prefix, join onto the upstream path with one `/`, append the query (proxy.md §3)."""
        rest = path[len(self.prefix) :] if self.prefix != "/" else path
        if not rest.startswith("/"):
            rest = "/" + rest
        url = self.origin + self.base_path + rest
        joined = "&".join(q for q in (self.base_query, query) if q)
        return url + "?" + joined if joined else url


def build_routes(settings: Settings) -> tuple[ProviderRoute, ...]:
    routes = []
    for name in PROVIDERS:
        cfg = getattr(settings.providers, name)
        parts = urlsplit(cfg.upstream.strip())
        routes.append(
            ProviderRoute(
                name=name,
                prefix=normalise_prefix(cfg.prefix),
                upstream=cfg.upstream,
                origin=f"{parts.scheme}://{parts.netloc}",
                base_path=parts.path.rstrip("/"),
                base_query=parts.query,
                timeout=cfg.timeout,
            )
        )
    return tuple(routes)


def match_route(routes: tuple[ProviderRoute, ...], path: str) -> ProviderRoute | None:
    for route in routes:
        if path_matches(path, route.prefix):
            return route
    return None
