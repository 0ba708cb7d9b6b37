"""CLI tests read no ambient settings: the caller's ONGOINGAI_*/OTEL_* variables are removed."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _no_ambient_config_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("ONGOINGAI_", "OTEL_")):
            monkeypatch.delenv(name)
