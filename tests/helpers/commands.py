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
