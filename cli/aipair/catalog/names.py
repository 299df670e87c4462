"""How catalog names are joined into the names the engines see, and which joins could collide.

Two different catalog objects can join to one rendered name (service `db` + volume `backup-data`
and service `db-backup` + volume `data` are both the volume `db-backup-data`), and the engines then
silently share one object. The joins live here, in the catalog layer, so that the renderers use
them (``aipair.render.names`` re-exports them) and ``checks.py`` can refuse every collision before
anything is rendered. ``rendered_names`` must list every name a renderer makes from catalog names;
tests compare it with the rendered Compose and Kubernetes objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .database import init_job_name

if TYPE_CHECKING:
    from .model import Catalog

Loc = tuple[str | int, ...]

# Kubernetes NetworkPolicies every namespace gets (render/kubernetes.py); a service of one of these names would
# replace one of them.
FIXED_NETWORK_POLICIES: tuple[str, ...] = ("default-deny", "allow-dns", "allow-monitoring")


def volume_name(service: str, volume: str) -> str:
    """A service's named volume: the Compose volume key and the Kubernetes claim name."""
    return f"{service}-{volume}"


def claim_template_name(service: str, volume: str, ordinal: int) -> str:
    """The claim a StatefulSet's volumeClaimTemplate makes for one replica (Kubernetes' own join)."""
    return f"{volume}-{service}-{ordinal}"


def router_name(service: str, port: str) -> str:
    """The Traefik router (and Traefik service) of a public port."""
    return f"{service}-{port}"


def config_name(service: str, index: int) -> str:
    """A Compose config holding one of the service's files."""
    return f"{service}-{index}"


def files_config_map(service: str) -> str:
    """The Kubernetes ConfigMap with a service's files."""
    return f"{service}-files"


def tls_secret_name(service: str) -> str:
    """The certificate Secret of a service's Ingress (cert-manager writes it)."""
    return f"{service}-tls"


def secret_name(project: str) -> str:
    """The one Kubernetes Secret holding every secret value of phase 2."""
    return f"{project}-secrets"


def compose_project_name(project: str, profile: str) -> str:
    """The Compose project of a profile: the mock profile never shares the real project's name, so no
    command on it (`down --volumes` above all) can reach the real project's containers, networks or volumes."""
    return project if profile == "real" else f"{project}-{profile}"


@dataclass(frozen=True)
class Made:
    """One rendered name, what it was made of and where the catalog says so."""

    kind: str
    name: str
    origin: str
    loc: Loc | None  # None: a name aipair itself reserves


def rendered_names(catalog: Catalog) -> list[Made]:
    """Every name the renderers make by joining catalog names, in catalog order."""
    made: list[Made] = []
    project = catalog.project.name
    made.append(Made("Kubernetes Secret", secret_name(project), "the Secret with every secret value", None))
    made += [
        Made("Kubernetes NetworkPolicy", fixed, "a NetworkPolicy aipair renders in every namespace", None)
        for fixed in FIXED_NETWORK_POLICIES
    ]
    for name, svc in catalog.services.items():
        base: Loc = ("services", name)
        mvp, scale = "mvp" in svc.phases, "scale" in svc.phases
        k8s = scale and svc.scale.managed is None  # a managed service is one ExternalName Service
        jobs = [(init_job_name(name), base + ("databases",))] if svc.databases else []
        for index, volume in enumerate(svc.volumes):
            if volume.shared_from:
                continue  # the owner's volume, named once
            loc = base + ("volumes", index, "name")
            origin = f"service {name} + volume {volume.name}"
            if mvp:
                made.append(Made("Compose volume", volume_name(name, volume.name), origin, loc))
            if k8s and svc.kind == "stateful":
                made += [
                    Made(
                        "Kubernetes PersistentVolumeClaim",
                        claim_template_name(name, volume.name, ordinal),
                        f"{origin}, replica {ordinal}",
                        loc,
                    )
                    for ordinal in range(max(svc.scale.replicas, 1))
                ]
            elif k8s:
                made.append(Made("Kubernetes PersistentVolumeClaim", volume_name(name, volume.name), origin, loc))
        for index, port in enumerate(svc.ports):
            if port.public is None:
                continue
            if mvp:
                made.append(
                    Made(
                        "Traefik router",
                        router_name(name, port.name),
                        f"service {name} + port {port.name}",
                        base + ("ports", index, "name"),
                    )
                )
        if k8s and any(port.public for port in svc.ports):
            made.append(Made("Kubernetes Secret", tls_secret_name(name), f"the TLS certificate of {name}", base))
        for index in range(len(svc.files)):
            if mvp:
                made.append(
                    Made(
                        "Compose config",
                        config_name(name, index),
                        f"service {name}, file {index}",
                        base + ("files", index),
                    )
                )
        if k8s and svc.files:
            made.append(Made("Kubernetes ConfigMap", files_config_map(name), f"the files of {name}", base + ("files",)))
        if k8s:
            made.append(Made("Kubernetes NetworkPolicy", name, f"service {name}", base))
        for job, loc in jobs:
            origin = f"the init job of {name}'s databases"
            if mvp:
                made.append(Made("Compose config", config_name(job, 0), origin, loc))
            if scale:  # the init job runs against a managed database too
                made.append(Made("Kubernetes ConfigMap", files_config_map(job), origin, loc))
                made.append(Made("Kubernetes NetworkPolicy", job, origin, loc))
    return made
