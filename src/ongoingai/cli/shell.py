"""`ongoingai shell-init` and `ongoingai wrap -- CMD`: point SDKs at the gateway (config-and-cli.md §4).

Both load the config without validating it. `shell-init` prints `export` lines; `wrap` runs the command
with inherited stdio and the two base URLs added to the environment (sorted by name) and exits with the
child's code: 128+n when a signal n killed it (proposed by the spec; upstream says 255), 1 when it could
not start. Signals that reach `wrap` itself (SIGINT, SIGTERM, SIGHUP) are passed on to the child.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import FrameType

import typer

from ongoingai.cli.base_url import provider_environment
from ongoingai.cli.loading import load_config
from ongoingai.cli.output import fail, usage_error

WRAP_USAGE = "usage: ongoingai wrap [--config path/to/ongoingai.yaml] -- <command> [args...]"
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def export_lines(environment: Mapping[str, str]) -> str:
    """`export NAME=value` per variable; values are shell-quoted only when they need it (IPv6 brackets)."""
    names = ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL")
    return "\n".join(f"export {name}={shlex.quote(environment[name])}" for name in names)


def child_environment(base: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    merged = {**base, **extra}
    return {name: merged[name] for name in sorted(merged)}


def exit_code(returncode: int) -> int:
    """The child's exit code, or 128+n when signal n ended it (Popen reports that as -n)."""
    return 128 - returncode if returncode < 0 else returncode


@contextmanager
def forwarding_signals(proc: subprocess.Popen[bytes]) -> Iterator[None]:
    def forward(signum: int, frame: FrameType | None) -> None:
        if proc.poll() is None:
            proc.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_wrapped(command: Sequence[str], environment: Mapping[str, str]) -> int:
    """Run `command` to completion with inherited stdio; returns our exit code.

    Raises:
        typer.Exit: code 1 with `failed to start command: …` when it cannot be started.
    """
    try:
        proc = subprocess.Popen(list(command), env=dict(environment))  # noqa: S603 - the operator's own command
    except (OSError, ValueError) as exc:
        fail(f"failed to start command: {exc}")
    with forwarding_signals(proc):
        return exit_code(proc.wait())


def run_shell_init(args: list[str], config: str) -> None:
    if args:
        usage_error("shell-init does not accept positional arguments")
    settings = load_config(config, validate=False)
    typer.echo(export_lines(provider_environment(settings)))


def run_wrap(args: list[str], config: str) -> None:
    """Exit with the wrapped command's code (usage error 2 without a command)."""
    command = args[1:] if args[:1] == ["--"] else list(args)
    if not command:
        usage_error(WRAP_USAGE)
    settings = load_config(config, validate=False)
    environment = child_environment(os.environ, provider_environment(settings))
    raise typer.Exit(run_wrapped(command, environment))
