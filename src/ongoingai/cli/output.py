"""Where the CLI reports failure: one line on stderr, then exit 1 (runtime) or 2 (usage).

DEVIATIONS.md "Errors, determinism, naming": usage errors exit 2, runtime failures exit 1, message texts
as config-and-cli.md §3–4 give them.
"""

from __future__ import annotations

from typing import NoReturn

import typer

EXIT_FAILURE = 1
EXIT_USAGE = 2


def fail(message: str) -> NoReturn:
    """Print `message` on stderr and exit 1: the command ran and something it needed failed."""
    typer.echo(message, err=True)
    raise typer.Exit(EXIT_FAILURE)


def usage_error(message: str) -> NoReturn:
    """Print `message` on stderr and exit 2: the command line itself is wrong."""
    typer.echo(message, err=True)
    raise typer.Exit(EXIT_USAGE)
