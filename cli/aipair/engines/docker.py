"""The Docker engine through the Docker SDK: reachability, container state, health and logs."""

from __future__ import annotations

import os
import re
from typing import Any

from pydantic import Field, computed_field

from ..errors import Unavailable
from ..results import Result


class EngineUnavailable(Unavailable):
    """No Docker engine answers."""


def where(host: str | None) -> str:
    return host or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def connect(host: str | None = None) -> Any:
    """A DockerClient for ``host`` (ssh://user@host uses the ssh binary), or EngineUnavailable."""
    import docker
    from docker.errors import DockerException

    try:
        client = (
            docker.DockerClient(base_url=host, use_ssh_client=host.startswith("ssh://"), timeout=60)
            if host
            else docker.from_env(timeout=60)
        )
        client.ping()
    except (DockerException, OSError) as exc:
        reason = str(exc).splitlines()[0][:200]
        raise EngineUnavailable(
            f"no Docker engine answers at {where(host)} ({reason}). Install and start one with "
            f"`aipair host bootstrap{' --host ' + host if host else ''}`, or point DOCKER_HOST at a running engine"
        ) from None
    return client


class ContainerStatus(Result):
    service: str
    container: str
    name: str
    image: str
    state: str
    health: str
    exit_code: int
    ports: list[str] = Field(default_factory=list)
    kind: str = Field(default="stateless", exclude=True)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        if self.kind == "job":
            return self.state == "exited" and self.exit_code == 0
        return self.state == "running" and self.health in ("healthy", "-")


HEALTH_RE = re.compile(r"\((healthy|unhealthy|health: starting)\)")
EXIT_RE = re.compile(r"^Exited \((-?\d+)\)")


def list_containers(client: Any, **filters: str) -> list[dict[str, Any]]:
    """One `GET /containers/json` (no per-container inspect): state, health and ports are all in it."""
    query = {"label": [f"{k}={v}" for k, v in filters.items()]} if filters else None
    containers: list[dict[str, Any]] = client.api.containers(all=True, filters=query)
    return containers


def project_containers(client: Any, project: str) -> list[ContainerStatus]:
    """Every container of the Compose project, sorted by service name."""
    rows = []
    for summary in list_containers(client, **{"com.docker.compose.project": project}):
        labels = summary.get("Labels") or {}
        text = summary.get("Status", "")
        health = HEALTH_RE.search(text)
        exited = EXIT_RE.match(text)
        ports = sorted(
            {
                f"{p.get('IP') or '0.0.0.0'}:{p['PublicPort']}->{p['PrivatePort']}/{p['Type']}"
                for p in summary.get("Ports") or []
                if p.get("PublicPort")
            }
        )
        rows.append(
            ContainerStatus(
                service=labels.get("com.docker.compose.service", summary["Names"][0].lstrip("/")),
                container=summary["Id"][:12],
                name=summary["Names"][0].lstrip("/"),
                image=summary.get("Image", ""),
                state=summary.get("State", "unknown"),
                health=health.group(1).replace("health: ", "") if health else "-",
                exit_code=int(exited.group(1)) if exited else 0,
                ports=ports,
                kind=labels.get("com.aipair.kind", "stateless"),
            )
        )
    return sorted(rows, key=lambda row: row.service)


def last_logs(client: Any, container: str, lines: int = 30) -> str:
    try:
        return str(client.containers.get(container).logs(tail=lines).decode("utf-8", "replace"))
    except Exception as exc:  # noqa: BLE001 - a log that cannot be read must not hide the failure itself
        return f"(logs unavailable: {exc})"
