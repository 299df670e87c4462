"""Names that several renderers (and the engines reading what they made) must agree on."""

from __future__ import annotations

from ..catalog.model import Catalog


def volume_name(service: str, volume: str) -> str:
    """A service's named volume: the Compose volume key and the Kubernetes claim name."""
    return f"{service}-{volume}"


def compose_volume_name(project: str, service: str, volume: str) -> str:
    """The engine's name for it: Compose prefixes volumes with the project name."""
    return f"{project}_{volume_name(service, volume)}"


def base_labels(catalog: Catalog) -> dict[str, str]:
    """Labels on every Kubernetes object aipair makes that belongs to no single service."""
    return {"app.kubernetes.io/part-of": catalog.project.name, "app.kubernetes.io/managed-by": "aipair"}


def secret_name(catalog: Catalog) -> str:
    """The one Secret that holds every secret value of phase 2 (made by the Pulumi program, never rendered)."""
    return f"{catalog.project.name}-secrets"
