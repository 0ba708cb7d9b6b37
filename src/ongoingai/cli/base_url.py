"""The gateway's client-facing URLs derived from config (config-and-cli.md §4 "Base URL").

Used by `shell-init`, `wrap` and `diagnostics`: host `""`, `0.0.0.0`, `::`, `[::]` → `localhost` (a
listen-everywhere address is not something a client can dial); a bare IPv6 host is bracketed; base
`http://<host>:<port>`. OpenAI = base + normalised prefix + `/v1` (unless already there); Anthropic =
base + normalised prefix.
"""

from __future__ import annotations

from ongoingai.config import Settings
from ongoingai.providers.routes import normalise_prefix

_ANY_ADDRESS = ("", "0.0.0.0", "::", "[::]")  # noqa: S104 - compared against, never bound


def client_host(host: str) -> str:
    host = host.strip()
    if host in _ANY_ADDRESS:
        return "localhost"
    if ":" in host and not host.startswith("["):
        return f"[{host}]"
    return host


def gateway_base_url(settings: Settings) -> str:
    return f"http://{client_host(settings.server.host)}:{settings.server.port}"


def _prefix(raw: str) -> str:
    prefix = normalise_prefix(raw)
    return "" if prefix == "/" else prefix


def openai_base_url(settings: Settings) -> str:
    url = gateway_base_url(settings) + _prefix(settings.providers.openai.prefix)
    return url if url.endswith("/v1") else url + "/v1"


def anthropic_base_url(settings: Settings) -> str:
    return gateway_base_url(settings) + _prefix(settings.providers.anthropic.prefix)


def provider_environment(settings: Settings) -> dict[str, str]:
    """`ANTHROPIC_BASE_URL` and `OPENAI_BASE_URL`, in name order."""
    return {"ANTHROPIC_BASE_URL": anthropic_base_url(settings), "OPENAI_BASE_URL": openai_base_url(settings)}
