"""Declarations of the operator commands: `report`, `debug`, `doctor`, `diagnostics`, `shell-init`, `wrap`.

Only flags and positionals live here; each body imports its implementation on use, as `serve` does, so
`ongoingai version` and `config validate` never load the store, the query layer or the API.
Every flag also answers to its single-dash spelling (config-and-cli.md §3).
"""

from __future__ import annotations

from typing import Annotated

import typer

from ongoingai.cli.options import DEFAULT_CONFIG_PATH, ConfigOption, FormatOption

# Positionals are collected rather than refused by click, so each command says the spec's own message.
NO_INTERSPERSED = {"allow_extra_args": True, "allow_interspersed_args": False}


def _opt(name: str, help_text: str, metavar: str | None = None) -> typer.models.OptionInfo:
    info: typer.models.OptionInfo = typer.Option(f"--{name}", f"-{name}", help=help_text, metavar=metavar)
    return info


From = Annotated[str, _opt("from", "Start: RFC 3339 or YYYY-MM-DD (UTC).", "TIME")]
To = Annotated[str, _opt("to", "End: RFC 3339 or YYYY-MM-DD (UTC, end of that day).", "TIME")]
Provider = Annotated[str, _opt("provider", "Exact provider.")]
Model = Annotated[str, _opt("model", "Exact model.")]
ReportLimit = Annotated[int, _opt("limit", "Recent traces to list (1-200).")]
TraceId = Annotated[str, _opt("trace-id", "Trace to debug (default: the newest trace).")]
GroupId = Annotated[str, _opt("trace-group-id", "Chain by trace group.")]
ThreadId = Annotated[str, _opt("thread-id", "Chain by lineage thread.")]
RunId = Annotated[str, _opt("run-id", "Chain by lineage run.")]
DebugLimit = Annotated[int, _opt("limit", "Most checkpoints to include (1-500).")]
Diff = Annotated[bool, _opt("diff", "Add checkpoint-to-checkpoint diffs (digests and deltas, never values).")]
BundleOut = Annotated[str, _opt("bundle-out", "Write debug-chain.json and manifest.json here.", "DIR")]
IncludeHeaders = Annotated[bool, _opt("include-headers", "Include the stored (redacted) headers.")]
IncludeBodies = Annotated[bool, _opt("include-bodies", "Include the stored (redacted) bodies.")]
BaseUrl = Annotated[str, _opt("base-url", "Gateway URL (default: derived from config).", "URL")]
GatewayKey = Annotated[str, _opt("gateway-key", "Gateway key sent with the request.")]
AuthHeader = Annotated[str, _opt("auth-header", "Gateway key header (default: auth.header).")]
Timeout = Annotated[str, _opt("timeout", "HTTP timeout, e.g. 5s, 500ms (> 0).", "DURATION")]


def register_read_commands(app: typer.Typer) -> None:
    """Add the six commands to `app` (called by `cli.main.create_cli`)."""

    @app.command("report", context_settings=NO_INTERSPERSED)
    def report(
        ctx: typer.Context,
        config: ConfigOption = DEFAULT_CONFIG_PATH,
        output: FormatOption = "text",
        since: From = "",
        until: To = "",
        provider: Provider = "",
        model: Model = "",
        limit: ReportLimit = 10,
    ) -> None:
        """Usage, cost, models, API keys and recent traces, read from storage (the gateway may be stopped)."""
        from ongoingai.cli.report import run_report

        run_report(ctx.args, config, output, since, until, provider, model, limit)

    @app.command("debug", context_settings={"allow_extra_args": True})
    def debug(
        ctx: typer.Context,
        config: ConfigOption = DEFAULT_CONFIG_PATH,
        trace_id: TraceId = "",
        trace_group_id: GroupId = "",
        thread_id: ThreadId = "",
        run_id: RunId = "",
        output: FormatOption = "text",
        limit: DebugLimit = 200,
        diff: Diff = False,
        bundle_out: BundleOut = "",
        include_headers: IncludeHeaders = False,
        include_bodies: IncludeBodies = False,
    ) -> None:
        """A trace's lineage chain in order ([last]: the newest trace), with diffs and a bundle."""
        from ongoingai.cli.debug import DebugArgs, run_debug

        selectors = (trace_id, trace_group_id, thread_id, run_id)
        run_debug(
            DebugArgs(
                ctx.args, config, output, limit, diff, bundle_out, include_headers, include_bodies, *selectors
            )
        )

    @app.command("doctor", context_settings=NO_INTERSPERSED)
    def doctor(
        ctx: typer.Context, config: ConfigOption = DEFAULT_CONFIG_PATH, output: FormatOption = "text"
    ) -> None:
        """Check config, storage, migrations, route wiring and auth posture (exit 1 when a check fails)."""
        from ongoingai.cli.doctor import run_doctor

        run_doctor(ctx.args, config, output)

    @app.command("diagnostics", context_settings={"allow_extra_args": True})
    def diagnostics(
        ctx: typer.Context,
        config: ConfigOption = DEFAULT_CONFIG_PATH,
        base_url: BaseUrl = "",
        gateway_key: GatewayKey = "",
        auth_header: AuthHeader = "",
        output: FormatOption = "text",
        timeout: Timeout = "5s",
    ) -> None:
        """[trace-pipeline]: a running gateway's trace-pipeline diagnostics (queue, drops, spill journal)."""
        from ongoingai.cli.diagnostics import run_diagnostics

        run_diagnostics(ctx.args, config, base_url, gateway_key, auth_header, output, timeout)

    @app.command("shell-init", context_settings=NO_INTERSPERSED)
    def shell_init(ctx: typer.Context, config: ConfigOption = DEFAULT_CONFIG_PATH) -> None:
        """Print `export` lines pointing the OpenAI and Anthropic SDKs at this gateway."""
        from ongoingai.cli.shell import run_shell_init

        run_shell_init(ctx.args, config)

    @app.command("wrap", context_settings={**NO_INTERSPERSED, "ignore_unknown_options": True})
    def wrap(ctx: typer.Context, config: ConfigOption = DEFAULT_CONFIG_PATH) -> None:
        """-- CMD [ARGS...]: run CMD with OPENAI_BASE_URL and ANTHROPIC_BASE_URL set to this gateway."""
        from ongoingai.cli.shell import run_wrap

        run_wrap(ctx.args, config)
