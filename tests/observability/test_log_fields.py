"""`log_fields`: the direct write of one line writes exactly what `logging` writes, and steps aside for
anything else attached (another handler, a filter, a level, OpenTelemetry loaded)."""

from __future__ import annotations

import io
import logging
import re
import sys
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from ongoingai.observability import logging as gateway_logging
from ongoingai.observability.logging import CORRELATION_ID, build_handler, log_fields
from ongoingai.observability.scrub import REDACTED, Scrubber

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
STATIC_TOKEN = "gw-static-token-0123456789"
PROVIDER_KEY = "sk-proj-" + "a1B2c3D4" * 5

FIELD_SETS: list[dict[str, Any]] = [
    {  # the access line
        "correlation_id": "corr-0123456789abcdef",
        "method": "POST",
        "path": "/openai/v1/chat/completions",
        "route": "/openai/*",
        "provider": "openai",
        "status": 200,
        "latency_ms": 0.412,
    },
    {  # credentials where a client controls the text
        "correlation_id": f"corr-{PROVIDER_KEY}",
        "path": f"/openai/v1/models/{STATIC_TOKEN}",
        "items": ["short", f"Bearer {PROVIDER_KEY}", 3],
        "pair": ("x-ongoingai-gateway-key: abcdefgh12345678", None),
    },
    {  # no correlation id given: the context's; other value types; non-ASCII
        "status": 500,
        "ok": False,
        "nothing": None,
        "ratio": 1.5,
        "note": "caf\u00e9 \u2014 \U0001f600",
    },
]


class Tree:
    """A logger under a root of its own, as `configure_logging` sets up the process's root."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.root = logging.RootLogger(logging.INFO)
        self.handler = build_handler(
            "json", Scrubber(literals=[STATIC_TOKEN]), stream=self.buffer, buffered=True
        )
        self.root.addHandler(self.handler)
        self.logger = logging.Logger("ongoingai.access")
        self.logger.parent = self.root

    def lines(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.buffer.getvalue().splitlines()]


@pytest.fixture
def tree(monkeypatch: pytest.MonkeyPatch) -> Iterator[Tree]:
    # Other tests of this session import OpenTelemetry; with it loaded every line takes `logging`'s path.
    monkeypatch.delitem(sys.modules, "opentelemetry.trace", raising=False)
    token = CORRELATION_ID.set("corr-from-context")
    yield Tree()
    CORRELATION_ID.reset(token)


@pytest.mark.parametrize("fields", FIELD_SETS)
def test_the_direct_line_is_the_line_logging_writes(tree: Tree, fields: dict[str, Any]) -> None:
    assert gateway_logging._direct_handler(tree.logger, logging.INFO) is tree.handler

    log_fields(tree.logger, logging.INFO, "request complete", dict(fields))
    tree.logger.info("request complete", extra=dict(fields))

    direct, standard = tree.lines()
    assert RFC3339.match(direct.pop("time")) and RFC3339.match(standard.pop("time"))
    assert list(direct.items()) == list(standard.items())  # same fields, values and order


def test_the_direct_line_is_scrubbed(tree: Tree) -> None:
    log_fields(tree.logger, logging.INFO, "request complete", dict(FIELD_SETS[1]))

    text = tree.buffer.getvalue()
    assert PROVIDER_KEY not in text and STATIC_TOKEN not in text and "abcdefgh12345678" not in text
    (line,) = tree.lines()
    assert line["path"] == f"/openai/v1/models/{REDACTED}"
    assert line["items"] == ["short", REDACTED, 3]


def test_a_line_without_a_correlation_id_takes_the_contexts(tree: Tree) -> None:
    log_fields(tree.logger, logging.INFO, "request complete", {"status": 200})

    (line,) = tree.lines()
    assert line["correlation_id"] == "corr-from-context"


def _attach_handler(t: Tree, _: pytest.MonkeyPatch) -> None:
    t.root.addHandler(logging.StreamHandler(io.StringIO()))


def _attach_logger_filter(t: Tree, _: pytest.MonkeyPatch) -> None:
    t.logger.addFilter(logging.Filter("ongoingai"))


def _attach_handler_filter(t: Tree, _: pytest.MonkeyPatch) -> None:
    t.handler.addFilter(logging.Filter("ongoingai"))


def _raise_level(t: Tree, _: pytest.MonkeyPatch) -> None:
    t.handler.setLevel(logging.WARNING)


def _text_format(t: Tree, _: pytest.MonkeyPatch) -> None:
    t.handler.setFormatter(logging.Formatter("%(message)s"))


def _load_opentelemetry(t: Tree, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.trace", object())


@pytest.mark.parametrize(
    "change",
    [
        _attach_handler,
        _attach_logger_filter,
        _attach_handler_filter,
        _raise_level,
        _text_format,
        _load_opentelemetry,
    ],
)
def test_anything_else_attached_takes_the_logging_path(
    tree: Tree, monkeypatch: pytest.MonkeyPatch, change: Any
) -> None:
    change(tree, monkeypatch)

    assert gateway_logging._direct_handler(tree.logger, logging.INFO) is None


def test_a_disabled_level_writes_nothing(tree: Tree) -> None:
    log_fields(tree.logger, logging.DEBUG, "request complete", {"status": 200})

    assert tree.buffer.getvalue() == ""
