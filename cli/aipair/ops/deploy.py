"""Phase-1 deploy: render, preflight, snapshot changed data, `compose up --wait`, judge health, soak, roll back
(the data too, from the snapshot).

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
from ..engines import snapshots as snapshot_store
from ..engines.compose import ComposeProject
from ..engines.files import atomic_write, write_files
from ..engines.secretstore import ensure_env
from ..engines.snapshots import SnapshotEntry, SnapshotError
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
from .snapshots import SnapshotSummary, apply_retention, for_rollback, plan, restore_set, take_planned

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
    snapshot: SnapshotSummary | None = Field(
        default=None, description="The data snapshot taken before `up`; null: nothing changed that holds data."
    )
    restored_data: list[SnapshotEntry] = Field(
        default_factory=list, description="Volumes put back from a snapshot (on rollback, or --restore-data)."
    )
    pruned: list[str] = Field(default_factory=list, description="Snapshot sets the retention policy removed.")
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
    snapshots: bool = True,
    restore_data_of: str | None = None,
    report: Progress = no_progress,
) -> DeployResult:
    """``soak``: seconds to watch every service after the gate, overriding the catalog (0: no soak).
    ``snapshots``: False skips the data snapshot (`--no-snapshot`). ``restore_data_of``: before `up`, put back
    the newest snapshot holding that service's data taken when its present version was deployed over the
    catalog's image (`aipair rollback --restore-data`)."""
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

    running = engine.project_containers(client, project.name)
    before = {s.service: s.container for s in running}
    restoring = None
    if restore_data_of is not None:
        wanted = catalog.service(restore_data_of).image
        restoring = for_rollback(client, project.name, restore_data_of, wanted)
        if restoring is None:
            raise SnapshotError(
                f"no snapshot of {project.name} holds {restore_data_of}'s data written by {wanted}; roll back without "
                "--restore-data (`aipair snapshots list` shows the sets there are)"
            )
    taken = None
    if snapshots and catalog.defaults.snapshots.enabled:
        existing = {
            volume.name
            for volume in client.volumes.list(filters={"label": f"com.docker.compose.project={project.name}"})
        }
        planned = plan(catalog, document, project.name, {s.service: s.image for s in running}, existing)
        if planned:
            taken = take_planned(client, project, planned, report, catalog=catalog)
    restored_data: list[SnapshotEntry] = []
    if restoring is not None:
        restored_data, _ = restore_set(client, project, restoring, report, catalog=catalog)
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
        snapshot=taken,
        restored_data=restored_data,
    )
    if result.ok:
        result.soak = watched = _soak(client, project.name, catalog, statuses, before, soak, report)
        if not watched.ok:
            result.ok = False
            failed = result.failed = watched.failed
    if result.ok:  # only a deploy that passed its soak becomes the one a rollback returns to
        atomic_write(last_good_file(root, profile, host), project.file.read_text(), mode=0o644)
        if catalog.defaults.snapshots.enabled:
            protect = {taken.id} if taken else set()
            result.pruned = apply_retention(client, catalog, project.name, protect=protect, report=report)
    else:
        if not failed:  # compose failed before any container could be judged
            failed = result.failed = sorted({s.service for s in statuses} or {"(compose)"})
        result.logs = {s.service: engine.last_logs(client, s.container) for s in statuses if s.service in failed}
        if rollback:
            if taken is not None and last_good_file(root, profile, host).exists():
                result.restored_data = _restore_taken(client, project, catalog, taken.id, failed, report)
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


def _restore_taken(
    client: DockerClient,
    project: ComposeProject,
    catalog: Catalog,
    snapshot_id: str,
    failed: list[str],
    report: Progress,
) -> list[SnapshotEntry]:
    """The failed version may have migrated the data: stop it, put the snapshot back; the last good file then
    brings the old image up on the old data."""
    report(f"stopping {', '.join(failed)} and restoring snapshot {snapshot_id}")
    stopping = [name for name in failed if name != "(compose)"]
    if stopping:  # a bare `compose stop` would stop every service
        project.run("stop", *stopping)
    chosen = snapshot_store.get(client, snapshot_id, project.name)
    restored, _ = restore_set(client, project, chosen, report, catalog=catalog)
    return restored


def deploy_gate(
    root: Path,
    *,
    source: str,
    profile: str,
    host: str | None,
    timeout: int,
    soak: float | None = None,
    restore_data_of: str | None = None,
    progress: Progress = no_progress,
    on_result: Callable[[DeployResult], None] = lambda _result: None,
) -> Deployer:
    """`--deploy` of upgrade apply and rollback: the phase-1 deploy with its health gate, its soak and automatic
    rollback. ``restore_data_of``: `rollback --restore-data` of that service (see deploy)."""

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
            restore_data_of=restore_data_of,
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
