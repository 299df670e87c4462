"""Phase-1 deploy: render, preflight, make or pull images, `compose up --wait`, judge health, soak, roll back.

The steps call the engines; nothing here renders or prints. ``report`` receives progress
messages so the CLI can show them (rich) or stay quiet (--json).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field

from ..catalog.model import Catalog
from ..engines import docker as engine
from ..engines.compose import ComposeProject
from ..engines.files import atomic_write, write_files
from ..engines.secretstore import ensure_env
from ..engines.soak import SoakReport, parse_duration, snapshot
from ..engines.soak import soak as watch_soak
from ..errors import AipairError
from ..render.compose import render_compose
from ..render.files import render_phase
from ..render.names import compose_project
from ..results import Result, Seconds
from .callbacks import Deployer, Progress, no_progress
from .outcome import Outcome
from .preflight import preflight

if TYPE_CHECKING:
    from docker import DockerClient

COMPOSE_FILES = {"real": "compose/docker-compose.yml", "mock": "compose/docker-compose.mock.yml"}


class PreflightFailed(AipairError):
    def __init__(self, checks: list[Outcome]) -> None:
        self.checks = checks
        failed = [c for c in checks if not c.ok]
        super().__init__("preflight failed: " + "; ".join(f"{c.name}: {c.detail}" for c in failed))


class DeployResult(Result):
    ok: bool
    project: str
    profile: str
    checks: list[Outcome]
    statuses: list[engine.ContainerStatus] = Field(serialization_alias="services")
    failed: list[str] = Field(default_factory=list)
    logs: dict[str, str] = Field(default_factory=dict)
    restored: list[dict[str, str]] = Field(default_factory=list)
    soak: SoakReport | None = Field(default=None, description="The watch after the health gate; null: the gate failed.")
    compose_output: str = Field(default="", exclude=True)
    seconds: Seconds = 0.0


def project_for(catalog: Catalog, root: Path, profile: str, host: str | None) -> ComposeProject:
    """The profile's own Compose project: the mock profile's is `<name>-mock`, never the real one."""
    return ComposeProject(compose_project(catalog, profile), root / COMPOSE_FILES[profile], root / "compose", host)


def last_good_file(root: Path, profile: str, host: str | None) -> Path:
    """The last successfully deployed file, per profile and per host (one checkout may serve several)."""
    target = re.sub(r"[^a-z0-9]+", "-", (host or "local").lower()).strip("-")
    return root / "compose" / ".state" / f"last-good.{profile}.{target}.yml"


def soak_plan(catalog: Catalog, statuses: list[engine.ContainerStatus], override: float | None) -> dict[str, float]:
    """Seconds each deployed service is watched after the gate: ``override`` (`--soak`) for all, else the
    service's own `soak`, else `defaults.soak`. Jobs are not watched: they exit by design."""
    plan: dict[str, float] = {}
    for status in statuses:
        if status.kind == "job":
            continue
        if override is not None:
            plan[status.service] = override
            continue
        own = catalog.services[status.service].soak if status.service in catalog.services else None
        plan[status.service] = parse_duration(own or catalog.defaults.soak)
    return plan


def deploy(
    catalog: Catalog,
    root: Path,
    *,
    source: str,
    profile: str = "real",
    host: str | None = None,
    timeout: int = 300,
    rollback: bool = False,
    soak: float | None = None,
    report: Progress = no_progress,
) -> DeployResult:
    """``soak``: seconds to watch every service after the gate, overriding the catalog (0: no soak)."""
    started = time.monotonic()
    rendering = render_phase(catalog, "mvp", source=source)
    write_files(root, rendering.files)
    ensure_env(catalog, "mvp", root / "compose" / ".env")
    project = project_for(catalog, root, profile, host)
    document, _ = render_compose(catalog, profile=profile)

    report("connecting to the engine")
    client = engine.connect(host)
    checks = preflight(client, project, document, report)
    if not all(c.ok for c in checks):
        raise PreflightFailed(checks)

    before = {s.service: s.container for s in engine.project_containers(client, project.name)}
    report("starting services and waiting for health")
    up = project.run("up", "--detach", "--wait", "--wait-timeout", str(timeout), "--remove-orphans", "--pull", "never")
    statuses = engine.project_containers(client, project.name)
    failed = [s.service for s in statuses if not s.ok]
    result = DeployResult(
        ok=up.returncode == 0 and not failed,
        project=project.name,
        profile=profile,
        checks=checks,
        statuses=statuses,
        failed=failed,
        compose_output=(up.stdout + up.stderr)[-4000:],
    )
    if result.ok:
        result.soak = watched = _soak(client, project.name, catalog, statuses, before, soak, report)
        if not watched.ok:
            result.ok = False
            failed = result.failed = watched.failed
    if result.ok:  # only a deploy that passed its soak becomes the one a rollback returns to
        atomic_write(last_good_file(root, profile, host), project.file.read_text(), mode=0o644)
    else:
        if not failed:  # compose failed before any container could be judged
            failed = result.failed = sorted({s.service for s in statuses} or {"(compose)"})
        result.logs = {s.service: engine.last_logs(client, s.container) for s in statuses if s.service in failed}
        if rollback:
            result.restored = _roll_back(client, project, root, profile, timeout, report)
            result.statuses = engine.project_containers(client, project.name)
    result.seconds = time.monotonic() - started
    return result


def _soak(
    client: DockerClient,
    project: str,
    catalog: Catalog,
    statuses: list[engine.ContainerStatus],
    before: dict[str, str],
    override: float | None,
    report: Progress,
) -> SoakReport:
    """The watch after the gate. A re-deploy that created or recreated no container, none of which has ever
    restarted, has nothing new to watch; one that restarted (a crash loop caught while healthy) is watched."""
    plan = soak_plan(catalog, statuses, override)
    now = snapshot(client, project)
    unchanged = all(before.get(s.service) == s.container for s in statuses)
    if unchanged and not any(state["restarts"] for service, state in now.items() if plan.get(service)):
        return SoakReport(seconds=0, skipped="no container was created, recreated or restarted")
    return watch_soak(client, project, plan, report, before=now)


def deploy_gate(
    root: Path,
    *,
    source: str,
    profile: str,
    host: str | None,
    timeout: int,
    soak: float | None = None,
    progress: Progress = no_progress,
    on_result: Callable[[DeployResult], None] = lambda _result: None,
) -> Deployer:
    """`--deploy` of upgrade apply and rollback: the phase-1 deploy with its health gate, its soak and automatic
    rollback."""

    def roll_out(updated: Catalog) -> bool:
        result = deploy(
            updated,
            root,
            source=source,
            profile=profile,
            host=host,
            timeout=timeout,
            rollback=True,
            soak=soak,
            report=progress,
        )
        on_result(result)
        return result.ok

    return roll_out


def _roll_back(
    client: DockerClient, project: ComposeProject, root: Path, profile: str, timeout: int, report: Progress
) -> list[dict[str, str]]:
    """Bring back the last successfully deployed file; report each service whose image changed back."""
    previous = last_good_file(root, profile, project.host)
    if not previous.exists():
        report("no earlier successful deploy to roll back to")
        return []
    report("rolling back to the last successful deploy")
    failed_images = {s.service: s.image for s in engine.project_containers(client, project.name)}
    project.run(
        "up", "--detach", "--wait", "--wait-timeout", str(timeout), "--remove-orphans", "--pull", "never", file=previous
    )
    after = {s.service: s.image for s in engine.project_containers(client, project.name)}
    return [
        {"service": name, "from": failed_images.get(name, ""), "to": image}
        for name, image in sorted(after.items())
        if failed_images.get(name) != image
    ]


def take_down(project: ComposeProject, *, volumes: bool, attempts: int = 3) -> None:
    """`compose down` (volumes only when asked). Retried when the engine still lists endpoints of
    just-removed containers on a network (a cleanup race of older engines); down is idempotent."""
    for attempt in range(1, attempts + 1):
        result = project.run("down", "--remove-orphans", *(["--volumes"] if volumes else []))
        if result.returncode == 0:
            return
        if "active endpoints" not in result.stderr or attempt == attempts:
            raise AipairError(f"compose down failed: {result.stderr.strip()[-600:]}")
        time.sleep(1.0 * attempt)
