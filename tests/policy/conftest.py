"""Policy fixtures: a `Redactor` built from `PiiSettings` exactly as the app builds it."""

from __future__ import annotations

from typing import Any

import pytest

from ongoingai.config.model import PiiSettings
from ongoingai.policy import Redactor

AUTH_HEADER = "X-OngoingAI-Gateway-Key"


def make_redactor(*, body_max_size: int = 0, **pii: Any) -> Redactor:
    """`make_redactor(detectors={"phone": False})`: settings validated by pydantic like a YAML file."""
    return Redactor.from_settings(PiiSettings.model_validate(pii), AUTH_HEADER, body_max_size=body_max_size)


@pytest.fixture(scope="session")
def redactor() -> Redactor:
    return make_redactor()
