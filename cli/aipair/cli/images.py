"""`aipair images …`: what an image is, read from its registry without an engine."""

from __future__ import annotations

from typing import Annotated

import typer

from .options import DEFAULT_CATALOG, CatalogOption, JsonOption, load

app = typer.Typer(
    help="Read images from their registries (no engine, no pull).\n\nExample:  aipair images inspect qdrant",
    no_args_is_help=True,
)


@app.command("inspect")
def inspect(
    target: Annotated[
        str, typer.Argument(metavar="SERVICE|IMAGE", help="A catalog service, or an image with its tag.")
    ],
    catalog: CatalogOption = DEFAULT_CATALOG,
    json_output: JsonOption = False,
) -> None:
    """What an image is for linux/amd64: platforms, digest, user, entrypoint and cmd, exposed ports, volumes,
    its own healthcheck, env keys (never values), size, and where the probe programs are on its PATH.

    A service name also looks up its health check's program and its volume paths. Credentials are those of
    `docker login`. Exit 2 for an unknown service, 3 when the registry cannot be read.

    \b
    Examples:
      aipair images inspect qdrant
      aipair images inspect busybox:1.36.1 --json
    """
    from ..ops import images
    from .output import conclude, progress, reporting
    from .present.images import show_inspection

    with reporting(json_output):
        loaded = None if images.looks_like_image(target) else load(catalog)
        with progress(json_output) as report:
            inspection = images.inspect(loaded, target, images.registry_inspector(), report)
        conclude(inspection, json_output, show_inspection)
