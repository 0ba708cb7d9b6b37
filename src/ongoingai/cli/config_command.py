"""`ongoingai config validate`: load + validate a config file and say whether it is valid."""

from __future__ import annotations

import typer

from ongoingai.cli.loading import INVALID, load_config
from ongoingai.cli.options import DEFAULT_CONFIG_PATH, ConfigOption, reject_positionals

config_app = typer.Typer(
    name="config",
    help="Inspect the gateway configuration.",
    no_args_is_help=True,  # `ongoingai config` alone: usage on stderr, exit 2
    add_completion=False,
    rich_markup_mode=None,
)


# Positionals are collected (not rejected by click) so that the error is the spec's own message; as with
# the original's Go flag parser, option parsing stops at the first positional.
@config_app.command("validate", context_settings={"allow_extra_args": True, "allow_interspersed_args": False})
def validate(ctx: typer.Context, config: ConfigOption = DEFAULT_CONFIG_PATH) -> None:
    """Load and validate the config: exit 0 when valid, 1 when not (load errors included)."""
    reject_positionals("config validate", ctx.args)
    load_config(config, load_failed_prefix=INVALID)
    typer.echo(f"config is valid: {config}")
