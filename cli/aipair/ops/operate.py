"""Operating a deployed phase-1 project: its health, its logs, taking it down, the mock image."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from ..catalog.model import Catalog
from ..engines import docker as engine
from ..engines.mockimage import ensure_mock_image
from ..errors import Declined
from ..render.names import compose_project, compose_volume_name
from ..results import Result
from .callbacks import Confirm, Progress
from .deploy import project_for, take_down


class ProjectStatus(Result):
    project: str
    ok: bool
    services: list[engine.ContainerStatus]


def project_status(catalog: Catalog, host: str | None, profile: str = "real") -> ProjectStatus:
    """Every container of the profile's project; ok only when there are some and all are ready."""
    project = compose_project(catalog, profile)
    rows = engine.project_containers(engine.connect(host), project)
    return ProjectStatus(project=project, ok=bool(rows) and all(r.ok for r in rows), services=rows)


def logs(
    catalog: Catalog,
    root: Path,
    service: str,
    *,
    profile: str,
    host: str | None,
    tail: int,
    follow: bool,
    on_line: Progress,
) -> int:
    """Each line of the service's logs to ``on_line`` (a container's text is untrusted: the CLI makes it
    safe to show); returns Compose's exit code."""
    catalog.service(service)
    args = ["logs", "--no-color", "--tail", str(tail), *(["--follow"] if follow else []), service]
    return project_for(catalog, root, profile, host).stream(*args, on_line=on_line)


class DownResult(Result):
    project: str
    delete_volumes: bool
    volumes: list[str] = Field(default_factory=list)  # deleted, or that would be
    dry_run: bool = False


def data_volumes(catalog: Catalog, profile: str = "real") -> list[str]:
    return [
        compose_volume_name(compose_project(catalog, profile), name, volume.name)
        for name, svc in catalog.in_phase("mvp").items()
        for volume in svc.volumes
        if not volume.shared_from  # the owner's volume, counted once
    ]


def down(
    catalog: Catalog, root: Path, *, profile: str, host: str | None, volumes: bool, dry_run: bool, confirm: Confirm
) -> DownResult:
    """Stop and remove containers and networks; volumes only when asked, and only after ``confirm``."""
    project = project_for(catalog, root, profile, host)
    result = DownResult(
        project=project.name,
        delete_volumes=volumes,
        volumes=data_volumes(catalog, profile) if volumes else [],
        dry_run=dry_run,
    )
    if dry_run:
        return result
    if volumes and not confirm(f"Delete {len(result.volumes)} data volumes of {project.name}?"):
        raise Declined("nothing removed")
    take_down(project, volumes=volumes)
    return result


class MockImage(Result):
    image: str
    built: bool


def build_mock_image(host: str | None, *, rebuild: bool) -> MockImage:
    image, built = ensure_mock_image(engine.connect(host), rebuild=rebuild)
    return MockImage(image=image, built=built)
