"""JSON documents the CLI prints and writes: 2-space indent, trailing newline, RFC 3339 `Z` times.

`generated_at` comes from `SOURCE_DATE_EPOCH` when it is set, so two runs over the same data give the
same bytes (DEVIATIONS.md "Errors, determinism, naming"); otherwise it is the current time. Times are
rendered by the API's `render_time`, so a document and an API answer print an instant identically.
This module stays light (no store, no API import at load) because every read-side command loads it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from ongoingai.cli.output import usage_error

SOURCE_DATE_EPOCH = "SOURCE_DATE_EPOCH"


def generated_at(environ: Mapping[str, str] = os.environ) -> datetime:
    """`SOURCE_DATE_EPOCH` (whole seconds since the Unix epoch, UTC) when set, else now.

    Raises:
        typer.Exit: code 2 when the variable is set but is not a non-negative integer.
    """
    raw = environ.get(SOURCE_DATE_EPOCH, "").strip()
    if not raw:
        return datetime.now(UTC)
    if not raw.isdigit():
        usage_error(f'invalid {SOURCE_DATE_EPOCH} "{raw}": expected whole seconds since 1970-01-01')
    return datetime.fromtimestamp(int(raw), UTC)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        # Imported on use: the API's renderer drags in the store; documents without times never need it.
        from ongoingai.api.render import render_time

        return render_time(value)
    raise TypeError(f"cannot render {type(value).__name__} as JSON")


def dump_document(document: Any) -> bytes:
    """The document's exact bytes: key order as built, 2-space indent, one trailing newline."""
    option = orjson.OPT_INDENT_2 | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_APPEND_NEWLINE
    return orjson.dumps(document, default=_default, option=option)


def plain(document: Any) -> Any:
    """The document as JSON would read it back (times as strings): for comparisons with API answers."""
    return orjson.loads(dump_document(document))
