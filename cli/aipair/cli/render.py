"""`aipair render`: the phases' files from the catalog."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .options import DEFAULT_CATALOG, CatalogOption, CheckOption, JsonOption, OutOption, PhaseChoice, load


def render(phase: Annotated[Optional[PhaseChoice], typer.Option(
               help="mvp: Docker Compose for one VPS (compose/); scale: Kubernetes manifests (k8s/). "
                    "Default: every phase.")] = None,
           catalog: CatalogOption = DEFAULT_CATALOG, out: OutOption = None, check: CheckOption = False,
           json_output: JsonOption = False) -> None:
    """Render the phases' files from the catalog, deterministically, and print the translation report.

    Phase mvp writes compose/docker-compose.yml, the mock profile and compose/.env.example, and
    creates compose/.env with generated secrets (mode 0600; existing values are never changed or
    shown). Phase scale writes k8s/ (one file per service plus a kustomization). Without --phase,
    the Kestra flows in kestra-flows/ are rendered (and checked) too.

    \b
    Examples:
      aipair render                  (every phase)
      aipair render --phase scale
      aipair render --check          (in CI: fails when committed files are stale)
    """
    from ..ops.render import render as run_render
    from .output import conclude, reporting
    from .present.render import show_rendering

    with reporting(json_output):
        result = run_render(load(catalog), catalog, phase=phase.value if phase else None, out=out, check=check)
        conclude(result, json_output, show_rendering)
