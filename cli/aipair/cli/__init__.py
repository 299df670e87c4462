"""The `aipair` command line: parse options, call one use case (aipair.ops), present its typed result.

One Typer group per module (catalog, flows, upgrade, host); shared options in options.py; presenters
in present/; exit codes in exits.py. Heavy modules (pydantic models, renderers, docker, pulumi) are
imported inside the commands that need them, so `aipair --help` starts fast.
"""

from __future__ import annotations

import os
from typing import Annotated, Optional

import typer

from .. import __version__
from . import catalog, deploy, flows, host, images, render, snapshots, upgrade
from .guard import GuardedGroup

app = typer.Typer(
    name="aipair",
    cls=GuardedGroup,  # every exception becomes a message (or JSON) and an exit code, never a traceback
    help=(
        "Platform toolkit for AI Pair Orchestrator Pro: one service catalog (catalog.yaml) rendered to "
        "Docker Compose (phase mvp) and validated before anything is written.\n\n"
        "Start with:  aipair catalog validate  then  aipair render --phase mvp"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(catalog.app, name="catalog")
app.command("render")(render.render)
app.command("deploy")(deploy.deploy)
app.command("destroy")(deploy.destroy)
app.command("status")(deploy.status)
app.command("logs")(deploy.logs)
app.command("down")(deploy.down)
app.add_typer(host.mocks_app, name="mocks")
app.add_typer(upgrade.app, name="upgrade")
app.add_typer(flows.app, name="flows")
app.add_typer(images.app, name="images")
app.add_typer(host.host_app, name="host")
app.command("rollback")(upgrade.rollback)
app.add_typer(snapshots.app, name="snapshots")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"aipair {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        Optional[bool],
        typer.Option("--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = None,
) -> None:
    """Exit codes: 0 success, 1 failure or drift (render --check), 2 invalid catalog or usage, 3 engine, server
    or credentials missing, 10 upgrades due, 70 internal error (AIPAIR_DEBUG=1 shows the traceback), 130
    interrupted."""


def main() -> None:
    # aipair uses no pydantic plugins; skipping their discovery (importlib.metadata) saves ~45 ms a start.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    app()
