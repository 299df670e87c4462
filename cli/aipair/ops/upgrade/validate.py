"""`aipair upgrade validate SERVICE VERSION`: run a candidate in a throw-away project before trusting it.

The candidate and everything it depends on (at their pinned versions) run as their own Compose
project: own name, own networks and volumes, no published host ports, so the running platform is
never touched. Health is awaited, the service's smoke tests run, logs are collected, and the
project is always torn down, on success, failure or Ctrl-C.

A service of a lockstep group (``upgrade.group``: versions.group_members) is never validated alone: every
member runs at the candidate version in one project, ``<project>-validate-<group>``, with the union of their
dependency closures at their pinned versions; every member's smoke tests run, the verdict is the group's (the
members that failed are named in ``failed``), and the ledger record attests every member's digest together.

The candidate is untrusted code: it gets none of the platform's secrets. The throw-away project has
its own `.env` with freshly generated values (same names, same rules); supplied secrets (vendor keys
the operator typed in) are handed over empty. Compose is run with a scrubbed environment, because
Compose lets the shell's variables win over `.env` (and COMPOSE_ENV_FILES could point it at the real
file). The candidate gets no Docker socket, and nothing is published on the host.

When the candidate is Kestra itself (the service named by ``project.kestra.server.service``), a stage
``flows`` follows health: the flows rendered for the candidate's version are sent to the candidate's own
``POST /flows/validate`` (inside the throw-away project, basic auth with the throw-away password) and a
Kestra that refuses any of them (a ``constraints`` message: an unknown task type such as ForEach on 2.0)
is rejected, as a failed smoke test would be.

Given the catalog's file, every run that reaches a verdict is recorded in the upgrade ledger beside it
(ops/upgrade/ledger.py): the registry's digest of the candidate is read before anything runs, and a run
whose engine used another image than that digest (a stale local copy of a re-pushed tag) fails at stage
``digest``, so the ledger never attests a digest that did not run.

With ``with_data`` (`--with-data`) the throw-away volumes start as copies of the running deployment's
(ops/upgrade/with_data.py: the live writers stopped briefly, the originals only read, the generated secrets
guarding the copied data carried over); a failed copy fails at stage ``data`` with nothing started.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field

from ...catalog import parse_catalog
from ...catalog.graph import dependency_closure
from ...catalog.images import ImageRef
from ...catalog.model import Catalog
from ...engines import docker as engine
from ...engines.compose import ComposeProject
from ...engines.files import atomic_write, write_json
from ...engines.secretstore import ensure_env, read_env
from ...errors import UsageError
from ...render.compose import DOCKER_SOCKET, render_compose
from ...render.files import dump_yaml, render_flows
from ...results import Result, Seconds
from ..callbacks import Progress, no_progress
from ..images import Inspector
from ..outcome import Outcome
from . import ledger
from .apply import pinned_image
from .assumptions import CandidateAssumptions, check_candidates
from .smoke import address, smoke_tests
from .versions import candidate_images, group_tags, images_at
from .with_data import DataCopy, LiveDeployment, copy_live_data


class ValidationReport(Result):
    service: str
    version: str
    image: str
    project: str
    group: str | None = None  # the service's upgrade.group: its members were validated together
    # every service run at its candidate image (service → image): the service, and the rest of its group
    members: dict[str, str] = Field(default_factory=dict)
    failed: list[str] = Field(default_factory=list)  # the members that failed (unhealthy, smoke, flows, digest)
    ok: bool = False
    stage: str = "starting"
    services: list[engine.ContainerStatus] = Field(default_factory=list)
    # the candidate's image against the catalog's assumptions, read before anything runs (None: not inspected)
    assumptions: CandidateAssumptions | None = None
    flows: list[Outcome] = Field(default_factory=list)  # the candidate Kestra's verdict on each rendered flow
    smoke: list[Outcome] = Field(default_factory=list)
    logs: dict[str, str] = Field(default_factory=dict)
    data: DataCopy | None = None  # --with-data: each copied volume (bytes, seconds), the live services' stop
    seconds: Seconds = 0.0
    torn_down: bool = False


# What Compose may see of the deployer's environment: enough to find the engine (DOCKER_HOST, DOCKER_CONFIG,
# DOCKER_CONTEXT, TLS, ssh) and to run; nothing that a `${…}` in the throw-away project could resolve to.
KEPT_VARIABLES = frozenset(
    {"PATH", "HOME", "USER", "LOGNAME", "TMPDIR", "LANG", "TZ", "SSH_AUTH_SOCK", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME"}
    | {"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"}
)
KEPT_PREFIXES = ("DOCKER_", "LC_")


@dataclass(frozen=True)
class ThrowawayProject(ComposeProject):
    """A Compose project that reads only its own `.env`: the shell environment is scrubbed down to what
    reaching the engine needs, and ``hidden`` (the catalog's secret names) is removed even from that."""

    hidden: frozenset[str] = frozenset()

    def env(self) -> dict[str, str]:
        kept = {k: v for k, v in super().env().items() if k in KEPT_VARIABLES or k.startswith(KEPT_PREFIXES)}
        return {k: v for k, v in kept.items() if k not in self.hidden}


def throwaway_catalog(
    catalog: Catalog, service: str, version: str, candidates: dict[str, str] | None = None
) -> Catalog:
    """The service at ``version`` (with the rest of its lockstep group: ``candidates``, service → image, from
    versions.candidate_images when not given) plus the union of their dependency closures, nothing else."""
    if candidates is None:
        candidates = candidate_images(catalog, service, version)
    keep = set(candidates).union(*(dependency_closure(catalog, member) for member in candidates))
    services = {}
    for name, svc in catalog.services.items():
        if name in keep:
            services[name] = svc.model_copy(update={"image": candidates[name]}) if name in candidates else svc
    return catalog.model_copy(update={"services": services})


def validate(
    catalog: Catalog,
    service: str,
    version: str,
    *,
    host: str | None = None,
    timeout: int = 300,
    report: Progress = no_progress,
    report_file: Path | None = None,
    inspector: Inspector | None = None,
    catalog_path: Path | None = None,
    with_data: LiveDeployment | None = None,
) -> ValidationReport:
    """Run the candidate; ``report_file`` gets the JSON report (what the Kestra flow keeps as its output).
    A service of a lockstep group (``upgrade.group``) is run with every member at ``version`` (in its own tag
    shape: versions.member_tag), in one project, and the verdict is the group's: one member failing fails them all.
    With an ``inspector`` the candidates' images are read from the registry first, and a candidate that breaks
    an assumption of the catalog (ops/upgrade/assumptions.py) fails at stage "image" with nothing run.
    With ``catalog_path`` (the file ``catalog`` was loaded from) the verdict is appended to its ledger.

    Nothing of the platform's checkout is read: not its compose/.env, not its rendered files; except with
    ``with_data``, which reads the live project's volumes and the live values of the secrets guarding them."""
    tags = group_tags(catalog, service, version)  # each member's tag for ``version``
    candidates = images_at(catalog, tags)  # UsageError before anything is read
    attestation = _attestation(catalog, catalog_path, tags) if catalog_path is not None else None
    assumptions = None
    broken: list[str] = []
    if inspector is not None:
        where = "their registries" if len(candidates) > 1 else "its registry"
        report(f"reading {', '.join(candidates.values())} from {where}")
        found = check_candidates(catalog, tags, inspector)
        broken = [name for name in candidates if found[name].verdict == "broken"]
        assumptions = found[broken[0] if broken else service]
    if broken:
        result = ValidationReport(
            service=service, version=version, image=candidates[service], project=project_name(catalog, service),
            group=_group(catalog, service, candidates), members=candidates, failed=broken, stage="image",
            assumptions=assumptions, torn_down=True,
        )  # fmt: skip
    else:
        result = _validate(
            catalog, service, version, candidates, host=host, timeout=timeout, report=report, with_data=with_data
        )
        result.assumptions = assumptions
        if attestation is not None and result.ok:
            _same_digest(result, attestation[1], host)
    if report_file is not None:
        write_json(report_file, result.to_json())
    if catalog_path is not None and attestation is not None:
        context, pins = attestation
        record = ledger.group_validation_record(
            pins=pins, tag=tags, context=context, passed=result.ok, stage=result.stage,
            report=ledger.report_hash(result.to_json()),
        )  # fmt: skip
        ledger.append(catalog_path, record)
        report(f"recorded in {ledger.ledger_path(catalog_path)}")
    return result


def _group(catalog: Catalog, service: str, candidates: dict[str, str]) -> str | None:
    return catalog.service(service).upgrade.group if len(candidates) > 1 else None


def _attestation(catalog: Catalog, catalog_path: Path, tags: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The catalog context (over every member of ``tags``, service → its candidate tag) and the registry's digest
    of each candidate (service → digest), read before anything runs; a damaged ledger stops the run here, as does
    a catalog file that no longer says what ``catalog`` says."""
    text = ledger.catalog_text(catalog_path)
    if parse_catalog(text, source=str(catalog_path)) != catalog:
        raise UsageError(f"{catalog_path} changed while it was being read; nothing was run: run the validation again")
    ledger.read(ledger.ledger_path(catalog_path))
    pins = {  # the digests `upgrade apply` would pin
        name: str(ImageRef.parse(pinned_image(catalog, name, tag)).digest) for name, tag in tags.items()
    }
    return ledger.context_hash(text, tags), pins


def _same_digest(result: ValidationReport, digests: dict[str, str], host: str | None) -> None:
    """Fail the result at stage "digest" unless the engine's image of each candidate tag is its digest."""
    from docker.errors import ImageNotFound

    client = engine.connect(host)
    for name, digest in digests.items():
        image = result.members.get(name, result.image)
        try:
            found = client.images.get(image).attrs.get("RepoDigests") or []
        except ImageNotFound:  # removed since it ran: nothing proves which digest ran
            found, reason = [], "the engine no longer has it"
        else:
            reason = f"the engine's copy has {', '.join(found) or 'no registry digest'}"
        if not any(entry.rpartition("@")[2] == digest for entry in found):
            result.ok = False
            result.stage = "digest"
            result.failed.append(name)
            key = "(digest)" if len(digests) == 1 else f"(digest {name})"
            result.logs[key] = (
                f"{image} is {digest} in its registry, but {reason[:300]}: the engine ran another copy (the "
                f"tag was pushed again since it was pulled). Pull it (docker pull {image}) and validate again"
            )


def project_name(catalog: Catalog, service: str) -> str:
    """``<project>-validate-<service>``, or ``<project>-validate-<group>`` for a member of a lockstep group."""
    group = catalog.service(service).upgrade.group
    return f"{catalog.project.name}-validate-{group or service}"[:63].rstrip("-")


def prepare_project(
    catalog: Catalog,
    service: str,
    version: str,
    workdir: Path,
    *,
    host: str | None,
    candidates: dict[str, str] | None = None,
) -> tuple[ThrowawayProject, dict[str, Any]]:
    """The throw-away project in ``workdir``: its Compose file and a `.env` of fresh throw-away secrets
    (never the platform's compose/.env: the candidate image is untrusted). ``candidates``: as throwaway_catalog."""
    if candidates is None:
        candidates = candidate_images(catalog, service, version)
    project = ThrowawayProject(
        project_name(catalog, service), workdir / "docker-compose.yml", workdir, host, frozenset(catalog.secrets)
    )
    return project, _write_project(project, throwaway_catalog(catalog, service, version, candidates), candidates)


def _write_project(project: ThrowawayProject, trial: Catalog, candidates: dict[str, str]) -> dict[str, Any]:
    """prepare_project's work: the Compose document of ``trial`` (written to ``project.file``) and its `.env`."""
    document, _ = render_compose(trial, project_name=project.name)
    for member, rendered in document["services"].items():
        rendered.pop("ports", None)  # nothing published: the running platform keeps its host ports
        if member in candidates and "volumes" in rendered:  # a candidate is untrusted: no engine socket for it
            rendered["volumes"] = [m for m in rendered["volumes"] if m.get("source") != DOCKER_SOCKET]
            if not rendered["volumes"]:
                del rendered["volumes"]
    ensure_env(trial, "mvp", project.directory / ".env")  # fresh values, generated by the same rules; mode 0600
    atomic_write(project.file, dump_yaml(document), mode=0o600)
    return document


def _validate(
    catalog: Catalog,
    service: str,
    version: str,
    candidates: dict[str, str],
    *,
    host: str | None,
    timeout: int,
    report: Progress,
    with_data: LiveDeployment | None = None,
) -> ValidationReport:
    name = project_name(catalog, service)
    result = ValidationReport(
        service=service, version=version, project=name, image=candidates[service],
        group=_group(catalog, service, candidates), members=candidates,
    )  # fmt: skip
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix=f"aipair-{name}-"))
    try:
        client = engine.connect(host)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    project = ThrowawayProject(name, workdir / "docker-compose.yml", workdir, host, frozenset(catalog.secrets))
    try:
        trial = throwaway_catalog(catalog, service, version, candidates)
        document = _write_project(project, trial, candidates)
        withheld = [n for n in trial.secrets_for("mvp") if catalog.secrets[n].supplied]
        if withheld:
            report(f"supplied secrets are handed to the candidate empty: {', '.join(withheld)}")
        for member in candidates:
            if catalog.services[member].docker_socket:
                report(f"{member} runs without the Docker socket here: a candidate is untrusted until it passes")
        if with_data is not None:
            result.stage = "data"
            live = with_data.project(catalog, host)
            result.data = copy_live_data(catalog, trial, project, live, client, report=report)
            if not result.data.ok:
                result.logs["(data)"] = result.data.error
                return result  # the finally below still tears the throw-away project down
        dependencies = len(document["services"]) - len(candidates)
        if result.group is not None:
            report(f"group {result.group}: starting {', '.join(candidates)} together at {version} "
                   f"with {dependencies} dependencies in {name}")  # fmt: skip
        else:
            report(f"starting {service} {version} with {dependencies} dependencies in {name}")
        result.stage = "health"
        up = project.run("up", "--detach", "--wait", "--wait-timeout", str(timeout), "--pull", "missing")
        statuses = engine.project_containers(client, name)
        result.services = statuses
        healthy = up.returncode == 0 and statuses and all(s.ok for s in statuses)
        if not healthy:
            running = {s.service for s in statuses if s.ok}
            result.failed = [m for m in candidates if m not in running]
        kestra = next((m for m in candidates if is_kestra(catalog, m)), None)
        if healthy and kestra is not None:
            result.stage = "flows"
            report(f"loading the rendered flows into Kestra {version}")
            target = next(s for s in statuses if s.service == kestra)
            port = catalog.services[kestra].ports[0].port if catalog.services[kestra].ports else 8080
            url = f"http://{address(client, target.container)}:{port}"
            result.flows = candidate_loads_flows(trial, url, password=_server_password(catalog, workdir))
            healthy = all(o.ok for o in result.flows)
            if not healthy:
                result.failed = [kestra]
        if healthy:
            result.stage = "smoke"
            report("running smoke tests" + (f" of {', '.join(candidates)}" if len(candidates) > 1 else ""))
            for member in candidates:
                target = next(s for s in statuses if s.service == member)
                smoke = smoke_tests(
                    client, target.container, catalog, member, version, workdir=workdir, candidates=candidates
                )
                if len(candidates) > 1:  # whose test it is
                    smoke = [o.model_copy(update={"name": f"{member}: {o.name}"}) for o in smoke]
                if not all(o.ok for o in smoke):
                    result.failed.append(member)
                result.smoke += smoke
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


def is_kestra(catalog: Catalog, service: str) -> bool:
    """Is ``service`` the Kestra that runs the flows (project.kestra.server.service)?"""
    settings = catalog.project.kestra
    return settings is not None and settings.server.service == service


def _server_password(catalog: Catalog, workdir: Path) -> str | None:
    """The throw-away value of project.kestra.server.password_secret (never the platform's)."""
    settings = catalog.project.kestra
    secret = settings.server.password_secret if settings else None
    return read_env(workdir / ".env").get(secret) if secret else None


def candidate_loads_flows(trial: Catalog, url: str, *, password: str | None, timeout: float = 60.0) -> list[Outcome]:
    """The candidate Kestra at ``url`` validates the flows rendered for ``trial`` (where the Kestra service
    runs the candidate's image, so they render for its version): one Outcome per flow, failed on a
    ``constraints`` message (shown verbatim) or when the server cannot be asked."""
    from ...engines.kestra import Credentials, KestraClient, KestraError

    settings = trial.project.kestra
    assert settings is not None
    # The candidate's image tag decides the flows' form, whatever project.kestra.version says.
    settings = settings.model_copy(update={"version": None})
    trial = trial.model_copy(update={"project": trial.project.model_copy(update={"kestra": settings})})
    try:
        flows = render_flows(trial).files
    except UsageError as exc:  # a tag that names no Kestra release
        return [Outcome.of("flows", False, str(exc))]
    credentials = Credentials(username=settings.server.username, password=password)
    try:
        with KestraClient(url, credentials=credentials, timeout=timeout, retries=2) as kestra:
            verdicts = kestra.validate(list(flows.values()))
    except KestraError as exc:
        hint = "" if settings.server.username else " (set project.kestra.server.username and password_secret)"
        return [Outcome.of("flows", False, f"{exc}{hint}")]
    names = [path.rsplit("/", 1)[-1] for path in flows]
    outcomes = []
    for verdict in verdicts:
        name = verdict.flow or (names[verdict.index] if verdict.index < len(names) else f"#{verdict.index}")
        detail = verdict.constraints or "loads" + (
            f"; warnings: {'; '.join(verdict.warnings)}" if verdict.warnings else ""
        )
        outcomes.append(Outcome.of(name, not verdict.rejected, detail))
    return outcomes or [Outcome.of("flows", False, "Kestra answered no verdict for the flows")]
