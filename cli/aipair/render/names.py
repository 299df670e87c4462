"""Names that several renderers (and the engines reading what they made) must agree on.

The joins themselves live in ``aipair.catalog.names``, where validation refuses any two catalog
objects that would join to one name; they are re-exported here for the renderers and engines.
"""

from __future__ import annotations

from ..catalog import names as joins
from ..catalog.model import Catalog
from ..catalog.names import config_name as config_name
from ..catalog.names import files_config_map as files_config_map
from ..catalog.names import router_name as router_name
from ..catalog.names import tls_secret_name as tls_secret_name
from ..catalog.names import volume_name as volume_name


def compose_volume_name(project: str, service: str, volume: str) -> str:
    """The engine's name for it: Compose prefixes volumes with the project name."""
    return f"{project}_{volume_name(service, volume)}"


def compose_project(catalog: Catalog, profile: str = "real") -> str:
    """The Compose project of a profile: `<project>-mock` for the mock profile, so that its containers,
    networks and volumes never are the real project's (`down --profile mock --volumes` cannot delete real data)."""
    return joins.compose_project_name(catalog.project.name, profile)


def base_labels(catalog: Catalog) -> dict[str, str]:
    """Labels on every Kubernetes object aipair makes that belongs to no single service."""
    return {"app.kubernetes.io/part-of": catalog.project.name, "app.kubernetes.io/managed-by": "aipair"}


def secret_name(catalog: Catalog) -> str:
    """The one Secret that holds every secret value of phase 2 (made by the Pulumi program, never rendered)."""
    return joins.secret_name(catalog.project.name)
