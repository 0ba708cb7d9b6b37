"""The `ongoingai` command line: the Typer app, its global behaviour, and the entry point.

config-and-cli.md §3 as amended by DEVIATIONS.md: no arguments runs `serve`; `version`, `--version` and
`-v` print `<version> (<commit>, <date>)`; unknown commands and flag errors exit 2 with usage on
stderr; `--help`/`-h` exit 0. Each command parses, calls one function, and renders.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

import ongoingai
from ongoingai.cli.config_command import config_app
from ongoingai.cli.loading import load_config
from ongoingai.cli.options import DEFAULT_CONFIG_PATH, ConfigOption
from ongoingai.cli.read_commands import register_read_commands
from ongoingai.config import Settings

RunServer = Callable[[Settings, str], int]


def run_serve(settings: Settings, config_path: str) -> int:
    """`cli.serve.run_serve`, imported on use: `version` and `config validate` never load the server stack."""
    from ongoingai.cli.serve import run_serve as run

    return run(settings, config_path)


def version_line() -> str:
    """`<version> (<commit>, <date>)`, from the values the build stamps into `ongoingai`."""
    return f"{ongoingai.__version__} ({ongoingai.COMMIT}, {ongoingai.BUILD_DATE})"


def _print_version(requested: bool) -> None:
    if requested:
        typer.echo(version_line())
        raise typer.Exit(0)


def create_cli(run_server: RunServer = run_serve) -> typer.Typer:
    """Build the app. `run_server` is what `serve` calls once the config is valid (tests pass a fake)."""
    app = typer.Typer(
        name="ongoingai",
        help="OngoingAI Gateway: a headless AI gateway in front of LLM providers.",
        add_completion=False,
        rich_markup_mode=None,  # plain click usage/errors: stable text for scripts and tests
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    def serve_with(config_path: str) -> None:
        settings = load_config(config_path)
        raise SystemExit(run_server(settings, config_path))

    @app.callback(invoke_without_command=True)
    def root(
        ctx: typer.Context,
        version: Annotated[
            bool,
            typer.Option(
                "--version", "-v", is_eager=True, callback=_print_version, help="Print the version and exit."
            ),
        ] = False,
    ) -> None:
        if ctx.invoked_subcommand is None:
            serve_with(DEFAULT_CONFIG_PATH)

    @app.command("serve")
    def serve(config: ConfigOption = DEFAULT_CONFIG_PATH) -> None:
        """Run the gateway until SIGINT/SIGTERM (exit 0 clean, 1 on failure)."""
        serve_with(config)

    @app.command("version")
    def version(
        config: Annotated[str, typer.Option("--config", "-config", hidden=True)] = DEFAULT_CONFIG_PATH,
    ) -> None:
        """Print `<version> (<commit>, <date>)`."""
        typer.echo(version_line())  # --config is accepted on every command; version has no use for it

    app.add_typer(config_app)
    register_read_commands(app)  # report, debug, doctor, diagnostics, shell-init, wrap (issue 5)
    return app


app = create_cli()


def main() -> None:
    """Console-script entry point (`ongoingai = "ongoingai.cli.main:main"`)."""
    app(prog_name="ongoingai")
