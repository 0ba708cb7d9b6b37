"""Official SDK clients for tests, closed after each test by an autouse fixture in tests/conftest.py.

An SDK client left to the garbage collector closes its pooled sockets in a finaliser, which raises
ResourceWarning at whatever later test the collector happens to run in (pytest turns it into an error).
Building every client here keeps that from happening.
"""

from __future__ import annotations

from typing import Any

import anthropic
import openai

_opened: list[openai.OpenAI | anthropic.Anthropic] = []


def openai_client(base_url: str, api_key: str, **kw: Any) -> openai.OpenAI:
    client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, **kw)
    _opened.append(client)
    return client


def anthropic_client(base_url: str, api_key: str, **kw: Any) -> anthropic.Anthropic:
    client = anthropic.Anthropic(base_url=base_url, api_key=api_key, max_retries=0, **kw)
    _opened.append(client)
    return client


def close_all() -> None:
    while _opened:
        _opened.pop().close()
