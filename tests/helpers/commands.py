"""aipair's Typer app, run in-process with Typer's CliRunner."""

from __future__ import annotations

from typing import Any

from typer.testing import CliRunner

from aipair.cli import app

runner = CliRunner()


def cli(*args: str) -> Any:
    return runner.invoke(app, list(args))


def invoke(args: list[str], env: dict[str, str], input: str | None = None) -> Any:
    return runner.invoke(app, args, env=env, input=input)


def interruptible() -> None:
    """``preexec_fn`` for a child that a test interrupts with SIGINT: Ctrl-C's default action, whatever the test
    runner inherited. A shell without job control starts background commands with SIGINT ignored, the child would
    inherit that, and Python installs no KeyboardInterrupt handler for an ignored SIGINT."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
