"""`aipair catalog …`: inspect and validate the service catalog."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import DEFAULT_CATALOG, CatalogOption, JsonOption, PhaseChoice, load

app = typer.Typer(help="Inspect and validate the service catalog.\n\nExample:  aipair catalog list --phase mvp",
                  no_args_is_help=True)


class GraphFormat(str, Enum):
    text = "text"
    mermaid = "mermaid"


@app.command("validate")
def validate(catalog: CatalogOption = DEFAULT_CATALOG, json_output: JsonOption = False) -> None:
    """Check the catalog: schema, references, dependency cycles, ports, secrets.

    Every problem names the file, line and field. Exit code 2 when the catalog is invalid.

    Example:  aipair catalog validate --catalog examples/gestasai.yaml
    """
    from ..ops.catalog import summary
    from .output import conclude, reporting
    from .present.catalog import show_summary

    with reporting(json_output):
        conclude(summary(catalog, load(catalog)), json_output, show_summary)


@app.command("list")
def list_services(catalog: CatalogOption = DEFAULT_CATALOG,
                  phase: Annotated[Optional[PhaseChoice], typer.Option(help="Only the services of this phase.")] = None,
                  json_output: JsonOption = False) -> None:
    """One row per service: layer, kind, image, public hostnames, dependencies.

    Example:  aipair catalog list --phase mvp --json
    """
    from ..ops.catalog import service_list
    from .output import conclude, reporting
    from .present.catalog import show_service_list

    with reporting(json_output):
        conclude(service_list(load(catalog), phase.value if phase else None), json_output, show_service_list)


@app.command("show")
def show(name: Annotated[str, typer.Argument(help="Service name, as in `aipair catalog list`.")],
         catalog: CatalogOption = DEFAULT_CATALOG, json_output: JsonOption = False) -> None:
    """Everything the catalog says about one service, with defaults filled in.

    Example:  aipair catalog show qdrant
    """
    from ..ops.catalog import service_detail
    from .output import conclude, reporting
    from .present.catalog import show_service_detail

    with reporting(json_output):
        conclude(service_detail(load(catalog), name), json_output, show_service_detail)


@app.command("graph")
def graph(catalog: CatalogOption = DEFAULT_CATALOG,
          phase: Annotated[Optional[PhaseChoice], typer.Option(help="Only the services of this phase.")] = None,
          fmt: Annotated[GraphFormat, typer.Option("--format", help="text (start waves) or mermaid (a diagram).")
                         ] = GraphFormat.text,
          json_output: JsonOption = False) -> None:
    """Start order: waves of services whose dependencies are all in earlier waves.

    A dependency cycle is an error (exit 2) that names the cycle.

    Example:  aipair catalog graph --format mermaid > docs/graph.mmd
    """
    from ..ops.catalog import start_order
    from .output import conclude, reporting
    from .present.catalog import show_start_order

    with reporting(json_output):
        order = start_order(load(catalog), phase.value if phase else None)
        conclude(order, json_output, lambda shown: show_start_order(shown, fmt.value))


@app.command("verify")
def verify(catalog: CatalogOption = DEFAULT_CATALOG,
           images: Annotated[bool, typer.Option("--images", help="Check each service's image in its registry.")
                             ] = False,
           service: Annotated[Optional[list[str]], typer.Option("--service", "-s", metavar="NAME",
                                                                help="Only this service (repeat for more).")
                              ] = None,
           json_output: JsonOption = False) -> None:
    """Check the catalog's assumptions against the images themselves, read from their registries.

    Per service: linux/amd64 is offered; the health check's program is on the image's PATH; each port is
    exposed by the image (or listed in known_differences.ports); runs_as_root matches the image's user;
    each volume path exists or can be created by that user. Credentials are those of `docker login`.

    Exit 0 when every check passes (warnings allowed), 1 when one fails or an image cannot be read,
    2 for an unknown service, 3 when no image could be read at all.

    \b
    Examples:
      aipair catalog verify --images
      aipair catalog verify --images --service qdrant --service web --json
    """
    from ..errors import UsageError
    from ..ops import images as image_ops
    from .output import conclude, progress, reporting
    from .present.images import show_verify

    with reporting(json_output):
        if not images:
            raise UsageError("say what to verify: --images (check each service's image in its registry)")
        loaded = load(catalog)
        with progress(json_output) as report:
            result = image_ops.verify_images(loaded, image_ops.registry_inspector(), service or None, report)
        conclude(result, json_output, show_verify)


@app.command("schema")
def schema(out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write to this file instead of stdout.")
                          ] = None) -> None:
    """The JSON Schema of the catalog format, for editors (yaml-language-server) and CI.

    Example:  aipair catalog schema --out catalog.schema.json
    """
    from ..ops.catalog import schema as make_schema
    from .output import reporting
    from .present.common import show_document

    with reporting(False):
        show_document(make_schema(out), out)
