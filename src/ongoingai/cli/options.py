"""Options every command shares, and their checks: `--config`, `--format`, no stray positionals.

Flags also answer to their single-dash spelling (`-config x`), which the original's Go flag parser
accepted; `--config=x` and `--config x` both work (config-and-cli.md §3).
"""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from ongoingai.cli.output import usage_error
from ongoingai.config import DEFAULT_CONFIG_PATH

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "ConfigOption",
    "FormatOption",
    "OutputFormat",
    "parse_format",
    "reject_positionals",
]

ConfigOption = Annotated[
    str,
    typer.Option(
        "--config",
        "-config",
        metavar="PATH",
        help="Path to the config file (a missing file means defaults + env).",
    ),
]

FormatOption = Annotated[
    str,
    typer.Option("--format", "-format", metavar="text|json", help="Output format: text or json."),
]


class OutputFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


def parse_format(command: str, raw: str) -> OutputFormat:
    """`text`/`json`, trimmed and case-insensitive (empty means text); else a usage error naming the command.

    Raises:
        typer.Exit: code 2 after `invalid <command> format "<raw>": expected text or json` on stderr.
    """
    try:
        return OutputFormat(raw.strip().lower() or OutputFormat.TEXT)
    except ValueError:
        usage_error(f'invalid {command} format "{raw}": expected text or json')


def reject_positionals(command: str, args: list[str] | None) -> None:
    """Commands that take no arguments say so by name (exit 2), as the original does."""
    if args:
        usage_error(f"{command} does not accept positional arguments")
