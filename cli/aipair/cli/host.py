"""`aipair host …` (prepare a VPS) and `aipair mocks …` (the mock profile's stand-in image)."""

from __future__ import annotations

from typing import Annotated

import typer

from .options import HostOption, JsonOption

host_app = typer.Typer(help="Prepare hosts for phase 1.\n\n"
                            "Example:  aipair host bootstrap --host ssh://root@vps --dry-run",
                       no_args_is_help=True)
mocks_app = typer.Typer(help="Local stand-ins for the mock profile.\n\nExample:  aipair mocks build",
                        no_args_is_help=True)


@host_app.command("bootstrap")
def bootstrap(host: HostOption = None,
              dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the pinned commands that would run; change nothing.")
                                 ] = False,
              json_output: JsonOption = False) -> None:
    """Install and start Docker and Compose v2 on a Debian host (idempotent), as root.

    Everything installed is pinned: apt versions per release (signatures enforced), the Compose
    wheel by SHA-256. --dry-run prints each command exactly as it would run.

    \b
    Examples:
      aipair host bootstrap --dry-run
      aipair host bootstrap --host ssh://root@vps.example.com
    """
    from ..ops.host import bootstrap as run_bootstrap
    from .output import conclude, reporting
    from .present.host import show_bootstrap

    with reporting(json_output):
        conclude(run_bootstrap(host, dry_run=dry_run), json_output, show_bootstrap)


@mocks_app.command("build")
def build(host: HostOption = None,
          rebuild: Annotated[bool, typer.Option("--rebuild", help="Make it again even if present.")] = False) -> None:
    """Make the mock image on the engine from static busybox (no registry needed).

    Example:  aipair mocks build
    """
    from ..ops.operate import build_mock_image
    from .output import reporting
    from .present.host import show_mock_image

    with reporting(False):
        show_mock_image(build_mock_image(host, rebuild=rebuild))
