"""`aipair upgrade validate SERVICE VERSION`: run a candidate in a throw-away project before trusting it.

The candidate and everything it depends on (at their pinned versions) run as their own Compose
project: own name, own networks and volumes, no published host ports, so the running platform is
never touched. Health is awaited, the service's smoke tests run, logs are collected, and the
project is always torn down, on success, failure or Ctrl-C.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from pydantic import Field

from ...catalog.graph import dependency_closure
from ...catalog.images import ImageRef
from ...catalog.model import Catalog, Port, SmokeTest
from ...engines import docker as engine
from ...engines.compose import ComposeProject
from ...engines.files import atomic_write, write_json
from ...engines.secretstore import ensure_env
from ...errors import UsageError
from ...render.compose import render_compose
from ...render.files import dump_yaml
from ...results import Result, Seconds
from ..callbacks import Progress, no_progress
from ..outcome import Outcome

if TYPE_CHECKING:
    from docker import DockerClient


class ValidationReport(Result):
    service: str
    version: str
    image: str
    project: str
    ok: bool = False
    stage: str = "starting"
    services: list[engine.ContainerStatus] = Field(default_factory=list)
    smoke: list[Outcome] = Field(default_factory=list)
    logs: dict[str, str] = Field(default_factory=dict)
    seconds: Seconds = 0.0
    torn_down: bool = False


def candidate_image(image: str, version: str) -> str:
    """The catalog's image at another tag (a pinned digest belongs to the old tag, so it goes).

    UsageError unless ``version`` is a Docker tag: it ends up in catalog.yaml, URLs and Compose files."""
    try:
        return str(ImageRef.parse(image).with_tag(version))
    except ValueError as exc:
        raise UsageError(f"{exc}; nothing was changed") from None


def throwaway_catalog(catalog: Catalog, service: str, version: str) -> Catalog:
    """The service at ``version`` plus its dependency closure, nothing else."""
    keep = dependency_closure(catalog, service) | {service}
    services = {}
    for name, svc in catalog.services.items():
        if name in keep:
            services[name] = (
                svc.model_copy(update={"image": candidate_image(svc.image, version)}) if name == service else svc
            )
    return catalog.model_copy(update={"services": services})


def validate(
    catalog: Catalog,
    root: Path,
    service: str,
    version: str,
    *,
    host: str | None = None,
    timeout: int = 300,
    report: Progress = no_progress,
    report_file: Path | None = None,
) -> ValidationReport:
    """Run the candidate; ``report_file`` gets the JSON report (what the Kestra flow keeps as its output)."""
    result = _validate(catalog, root, service, version, host=host, timeout=timeout, report=report)
    if report_file is not None:
        write_json(report_file, result.to_json())
    return result


def _validate(
    catalog: Catalog, root: Path, service: str, version: str, *, host: str | None, timeout: int, report: Progress
) -> ValidationReport:
    catalog.service(service)
    trial = throwaway_catalog(catalog, service, version)
    project_name = f"{catalog.project.name}-validate-{service}"[:63].rstrip("-")
    document, _ = render_compose(trial, project_name=project_name)
    for rendered in document["services"].values():
        rendered.pop("ports", None)  # nothing published: the running platform keeps its host ports
    result = ValidationReport(
        service=service,
        version=version,
        project=project_name,
        image=candidate_image(catalog.services[service].image, version),
    )
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix=f"aipair-{project_name}-"))
    client = engine.connect(host)
    project = ComposeProject(project_name, workdir / "docker-compose.yml", workdir, host)
    try:
        env = root / "compose" / ".env"
        ensure_env(catalog, "mvp", env)  # the same secrets as the platform
        shutil.copy(env, workdir / ".env")
        atomic_write(project.file, dump_yaml(document), mode=0o600)
        report(f"starting {service} {version} with {len(document['services']) - 1} dependencies in {project_name}")
        result.stage = "health"
        up = project.run("up", "--detach", "--wait", "--wait-timeout", str(timeout), "--pull", "missing")
        statuses = engine.project_containers(client, project_name)
        result.services = statuses
        healthy = up.returncode == 0 and statuses and all(s.ok for s in statuses)
        if healthy:
            result.stage = "smoke"
            report("running smoke tests")
            target = next(s for s in statuses if s.service == service)
            result.smoke = [
                _smoke(client, target.container, test, catalog.services[service].ports)
                for test in catalog.services[service].smoke
            ]
            result.ok = all(s.ok for s in result.smoke)
            result.stage = "passed" if result.ok else "smoke"
        elif not statuses:
            result.logs["(compose)"] = (up.stdout + up.stderr)[-3000:]
        result.logs.update({s.service: engine.last_logs(client, s.container, 50) for s in statuses})
    finally:
        report("tearing down the throw-away project")
        down = project.run("down", "--volumes", "--remove-orphans", "--timeout", "5")
        result.torn_down = down.returncode == 0
        shutil.rmtree(workdir, ignore_errors=True)
        result.seconds = time.monotonic() - started
    return result


def _smoke(client: DockerClient, container: str, test: SmokeTest, ports: list[Port]) -> Outcome:
    if test.command is not None:
        run = client.containers.get(container).exec_run(test.command)
        raw = run.output if isinstance(run.output, bytes) else b"".join(run.output)
        output = raw.decode("utf-8", "replace")[-300:]
        ok = run.exit_code == 0 and (test.contains is None or test.contains in output)
        return Outcome.of(test.name, ok, f"exit {run.exit_code}: {output.strip()}")
    networks = client.containers.get(container).attrs["NetworkSettings"]["Networks"]
    address = next(n["IPAddress"] for n in networks.values() if n.get("IPAddress"))
    if test.tcp is not None:
        import socket

        try:
            with socket.create_connection((address, test.tcp), timeout=5):
                return Outcome.of(test.name, True, f"tcp {test.tcp}: accepted")
        except OSError as exc:
            return Outcome.of(test.name, False, f"tcp {test.tcp}: {exc.strerror or exc}")
    port = test.port or (ports[0].port if ports else 80)
    try:
        response = httpx.get(f"http://{address}:{port}{test.http}", timeout=10)
    except httpx.TransportError as exc:
        return Outcome.of(test.name, False, f"GET {test.http}: {exc.__class__.__name__}")
    ok = response.status_code == test.status and (test.contains is None or test.contains in response.text)
    return Outcome.of(
        test.name,
        ok,
        f"GET {test.http} → {response.status_code}"
        + ("" if test.contains is None else f", contains {test.contains!r}: {test.contains in response.text}"),
    )
