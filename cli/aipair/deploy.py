"""Phase-1 deploy: render, preflight, make or pull images, `compose up --wait`, judge health, roll back.

The steps call the engines; nothing here renders or prints. ``report`` receives progress
messages so the CLI can show them (rich) or stay quiet (--json).
"""

from __future__ import annotations

import errno
import re
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .catalog.model import Catalog
from .engines import docker as engine
from .engines.compose import Project, compose_version
from .errors import AipairError
from .outcome import Outcome
from .render.compose import render_compose
from .render.files import render_phase
from .secretstore import ensure_env
from .workspace import atomic_write, write_files

Report = Callable[[str], None]
COMPOSE_FILES = {"real": "compose/docker-compose.yml", "mock": "compose/docker-compose.mock.yml"}
MIN_FREE_BYTES = 1 << 30


class PreflightFailed(AipairError):
    def __init__(self, checks: list["Outcome"]) -> None:
        self.checks = checks
        failed = [c for c in checks if not c.ok]
        super().__init__("preflight failed: " + "; ".join(f"{c.name}: {c.detail}" for c in failed))


@dataclass
class DeployResult:
    ok: bool
    project: str
    profile: str
    checks: list[Outcome]
    statuses: list[engine.ContainerStatus]
    failed: list[str] = field(default_factory=list)
    logs: dict[str, str] = field(default_factory=dict)
    restored: list[dict[str, str]] = field(default_factory=list)
    compose_output: str = ""
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "project": self.project, "profile": self.profile,
                "checks": [c.as_dict() for c in self.checks], "services": [s.as_dict() for s in self.statuses],
                "failed": self.failed, "logs": self.logs, "restored": self.restored, "seconds": round(self.seconds, 2)}


def project_for(catalog: Catalog, root: Path, profile: str, host: str | None) -> Project:
    return Project(catalog.project.name, root / COMPOSE_FILES[profile], root / "compose", host)


def last_good_file(root: Path, profile: str, host: str | None) -> Path:
    """The last successfully deployed file, per profile and per host (one checkout may serve several)."""
    target = re.sub(r"[^a-z0-9]+", "-", (host or "local").lower()).strip("-")
    return root / "compose" / ".state" / f"last-good.{profile}.{target}.yml"


def deploy(catalog: Catalog, root: Path, *, source: str, profile: str = "real", host: str | None = None,
           timeout: int = 300, rollback: bool = False, report: Report = lambda _: None) -> DeployResult:
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

    report("starting services and waiting for health")
    up = project.run("up", "--detach", "--wait", "--wait-timeout", str(timeout), "--remove-orphans", "--pull", "never")
    statuses = engine.project_containers(client, project.name)
    failed = [s.service for s in statuses if not s.ok]
    result = DeployResult(up.returncode == 0 and not failed, project.name, profile, checks, statuses, failed,
                          compose_output=(up.stdout + up.stderr)[-4000:])
    if result.ok:
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


def _roll_back(client: Any, project: Project, root: Path, profile: str, timeout: int,
               report: Report) -> list[dict[str, str]]:
    """Bring back the last successfully deployed file; report each service whose image changed back."""
    previous = last_good_file(root, profile, project.host)
    if not previous.exists():
        report("no earlier successful deploy to roll back to")
        return []
    report("rolling back to the last successful deploy")
    failed_images = {s.service: s.image for s in engine.project_containers(client, project.name)}
    project.run("up", "--detach", "--wait", "--wait-timeout", str(timeout), "--remove-orphans", "--pull", "never",
                file=previous)
    after = {s.service: s.image for s in engine.project_containers(client, project.name)}
    return [{"service": name, "from": failed_images.get(name, ""), "to": image}
            for name, image in sorted(after.items()) if failed_images.get(name) != image]


def preflight(client: Any, project: Project, document: dict[str, Any], report: Report) -> list[Outcome]:
    """Engine, Compose, host ports, disk, images: each check says what it found."""
    from .engines.mockimage import MockImageError, ensure_mock_image
    from .render.mock import MOCK_IMAGE

    version = client.version()
    checks = [Outcome("engine", True, f"Docker {version.get('Version')} (API {version.get('ApiVersion')}) at "
                                    f"{engine.where(project.host)}")]
    compose = compose_version()
    checks.append(Outcome("compose", compose.split(".")[0].lstrip("v").isdigit() and int(compose.split(".")[0].lstrip("v")) >= 2,
                        f"Docker Compose {compose}"))
    checks.append(_ports_check(client, project, document))
    checks.append(_disk_check(client, project))
    images = sorted({svc["image"] for svc in document["services"].values()})
    if MOCK_IMAGE in images:
        report("making the mock image")
        try:
            _, built = ensure_mock_image(client)
            checks.append(Outcome("mock image", True, f"{MOCK_IMAGE} {'made now' if built else 'present'}"))
        except MockImageError as exc:
            checks.append(Outcome("mock image", False, str(exc)))
    checks.append(_pull_images(client, [i for i in images if i != MOCK_IMAGE], report))
    return checks


def _ports_check(client: Any, project: Project, document: dict[str, Any]) -> Outcome:
    wanted = sorted({(int(p["published"]), p.get("protocol", "tcp")) for svc in document["services"].values()
                     for p in svc.get("ports", [])})
    ours: set[tuple[int, str]] = set()
    conflicts = []
    for summary in engine.list_containers(client):
        labels = summary.get("Labels") or {}
        for binding in summary.get("Ports") or []:
            if not binding.get("PublicPort") or summary.get("State") != "running":
                continue
            key = (int(binding["PublicPort"]), binding["Type"])
            if labels.get("com.docker.compose.project") == project.name:
                ours.add(key)
            elif key in wanted:
                conflicts.append(f"{key[0]}/{key[1]} is published by container {summary['Names'][0].lstrip('/')}")
    if not project.host or project.host.startswith("unix://"):
        for port, protocol in wanted:
            if (port, protocol) in ours or any(c.startswith(f"{port}/") for c in conflicts):
                continue
            kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
            with socket.socket(socket.AF_INET, kind) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind(("0.0.0.0", port))
                except OSError as exc:
                    reason = "in use by another process" if exc.errno == errno.EADDRINUSE else exc.strerror
                    conflicts.append(f"{port}/{protocol} is {reason}")
    conflicts = list(dict.fromkeys(conflicts))  # IPv4 and IPv6 bindings of one container
    listed = ", ".join(f"{p}/{proto}" for p, proto in wanted) or "none"
    return Outcome("host ports", not conflicts, "; ".join(conflicts) if conflicts else f"free: {listed}")


def _disk_check(client: Any, project: Project) -> Outcome:
    root = client.info().get("DockerRootDir", "/var/lib/docker")
    if project.host and not project.host.startswith("unix://"):
        return Outcome("disk", True, f"{root} on the remote host (not measured from here)")
    try:
        free = shutil.disk_usage(root).free
    except OSError:
        return Outcome("disk", True, f"{root} is not visible from here (not measured)")
    return Outcome("disk", free >= MIN_FREE_BYTES, f"{free / 2**30:.1f} GiB free in {root} (need 1 GiB)")


def _pull_images(client: Any, images: list[str], report: Report) -> Outcome:
    from docker.errors import DockerException, ImageNotFound

    def pullable(image: str) -> str:
        # a pinned `repo:tag@sha256:…` is pulled (and found) by its digest alone
        name, _, digest = image.partition("@")
        return f"{name.rsplit(':', 1)[0] if ':' in name.rsplit('/', 1)[-1] else name}@{digest}" if digest else image

    missing = []
    for image in images:
        try:
            client.images.get(pullable(image))
        except ImageNotFound:
            missing.append(image)
    failures = []
    for index, image in enumerate(missing, start=1):
        report(f"pulling {image} ({index}/{len(missing)})")
        try:
            client.images.pull(pullable(image))
        except DockerException as exc:
            failures.append(f"{image}: {str(exc).splitlines()[0][:160]}")
    present = len(images) - len(missing)
    if failures:
        return Outcome("images", False, "cannot pull " + "; ".join(failures))
    return Outcome("images", True, f"{present} present, {len(missing)} pulled")


def take_down(project: Project, *, volumes: bool, attempts: int = 3) -> None:
    """`compose down` (volumes only when asked). Retried when the engine still lists endpoints of
    just-removed containers on a network (a cleanup race of older engines); down is idempotent."""
    for attempt in range(1, attempts + 1):
        result = project.run("down", "--remove-orphans", *(["--volumes"] if volumes else []))
        if result.returncode == 0:
            return
        if "active endpoints" not in result.stderr or attempt == attempts:
            raise AipairError(f"compose down failed: {result.stderr.strip()[-600:]}")
        time.sleep(1.0 * attempt)
