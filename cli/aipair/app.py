"""The `aipair` command line. Wiring only: parse options, call one function, present the result.

Heavy modules (pydantic models, renderers; later docker, pulumi, kubernetes) are imported
inside the commands that need them, so `aipair --help` starts fast.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from . import __version__

if TYPE_CHECKING:
    from .catalog.model import Catalog

app = typer.Typer(
    name="aipair",
    help=(
        "Platform toolkit for AI Pair Orchestrator Pro: one service catalog (catalog.yaml) rendered to "
        "Docker Compose (phase mvp) and validated before anything is written.\n\n"
        "Start with:  aipair catalog validate  then  aipair render --phase mvp"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
catalog_app = typer.Typer(
    help="Inspect and validate the service catalog.\n\nExample:  aipair catalog list --phase mvp",
    no_args_is_help=True,
)
app.add_typer(catalog_app, name="catalog")
mocks_app = typer.Typer(help="Local stand-ins for the mock profile.\n\nExample:  aipair mocks build", no_args_is_help=True)
app.add_typer(mocks_app, name="mocks")
upgrade_app = typer.Typer(help="Keep components current: find newer versions allowed by each service's policy.\n\n"
                                "Example:  aipair upgrade check --json", no_args_is_help=True)
app.add_typer(upgrade_app, name="upgrade")
flows_app = typer.Typer(
    help="Kestra flows that validate new component versions on a schedule: render them from the catalog, "
         "have the server validate them, register them, run them and see their state.\n\n"
         "Server and credentials: --server or KESTRA_URL; KESTRA_USER and KESTRA_PASSWORD (basic auth) or "
         "KESTRA_API_TOKEN. Exit codes: 0 ok, 1 rejected or failed, 2 bad input or unknown flow, "
         "3 server unreachable or credentials refused.\n\n"
         "Example:  aipair flows register --prune --dry-run",
    no_args_is_help=True)
app.add_typer(flows_app, name="flows")
host_app = typer.Typer(help="Prepare hosts for phase 1.\n\nExample:  aipair host bootstrap --host ssh://root@vps --dry-run",
                       no_args_is_help=True)
app.add_typer(host_app, name="host")


class Phase(str, Enum):
    mvp = "mvp"
    scale = "scale"


class Profile(str, Enum):
    real = "real"
    mock = "mock"


class GraphFormat(str, Enum):
    text = "text"
    mermaid = "mermaid"


CatalogOption = Annotated[
    Path,
    typer.Option("--catalog", "-c", envvar="AIPAIR_CATALOG", help="The service catalog to read.",
                 show_default=True, dir_okay=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout (for CI).")]
HostOption = Annotated[Optional[str], typer.Option("--host", help="Engine to use: ssh://user@host (default: DOCKER_HOST "
                                                                  "or the local socket).")]
ProfileOption = Annotated[Profile, typer.Option("--profile", help="real images, or mock: local stand-ins that keep "
                                                                   "names, ports and health endpoints (offline).")]
DEFAULT_CATALOG = Path("catalog.yaml")
OutOption = Annotated[Optional[Path], typer.Option("--out", "-o", help="Output root (default: the catalog's folder).",
                                                   file_okay=False)]
CheckOption = Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 and show a diff if the files on "
                                                           "disk differ from what the catalog renders.")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"aipair {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[Optional[bool], typer.Option("--version", "-V", callback=_version, is_eager=True,
                                                     help="Print the version and exit.")] = None,
) -> None:
    """Exit codes: 0 success, 1 failure or drift (render --check), 2 invalid catalog or usage."""


@catalog_app.command("validate")
def catalog_validate(catalog: CatalogOption = DEFAULT_CATALOG, json_output: JsonOption = False) -> None:
    """Check the catalog: schema, references, dependency cycles, ports, secrets.

    Every problem names the file, line and field. Exit code 2 when the catalog is invalid.

    Example:  aipair catalog validate --catalog examples/gestasai.yaml
    """
    from . import present

    with present.reporting(json_output):
        loaded = _load(catalog)
        present.validated(catalog, loaded, json_output)


@catalog_app.command("list")
def catalog_list(
    catalog: CatalogOption = DEFAULT_CATALOG,
    phase: Annotated[Optional[Phase], typer.Option(help="Only the services of this phase.")] = None,
    json_output: JsonOption = False,
) -> None:
    """One row per service: layer, kind, image, public hostnames, dependencies.

    Example:  aipair catalog list --phase mvp --json
    """
    from . import present

    with present.reporting(json_output):
        present.service_list(_load(catalog), phase.value if phase else None, json_output)


@catalog_app.command("show")
def catalog_show(
    name: Annotated[str, typer.Argument(help="Service name, as in `aipair catalog list`.")],
    catalog: CatalogOption = DEFAULT_CATALOG,
    json_output: JsonOption = False,
) -> None:
    """Everything the catalog says about one service, with defaults filled in.

    Example:  aipair catalog show qdrant
    """
    from . import present

    with present.reporting(json_output):
        present.service_detail(_load(catalog), name, json_output)


@catalog_app.command("graph")
def catalog_graph(
    catalog: CatalogOption = DEFAULT_CATALOG,
    phase: Annotated[Optional[Phase], typer.Option(help="Only the services of this phase.")] = None,
    fmt: Annotated[GraphFormat, typer.Option("--format", help="text (start waves) or mermaid (a diagram).")] = GraphFormat.text,
    json_output: JsonOption = False,
) -> None:
    """Start order: waves of services whose dependencies are all in earlier waves.

    A dependency cycle is an error (exit 2) that names the cycle.

    Example:  aipair catalog graph --format mermaid > docs/graph.mmd
    """
    from . import present

    with present.reporting(json_output):
        present.graph(_load(catalog), phase.value if phase else None, fmt.value, json_output)


@catalog_app.command("schema")
def catalog_schema(
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write to this file instead of stdout.")] = None,
) -> None:
    """The JSON Schema of the catalog format, for editors (yaml-language-server) and CI.

    Example:  aipair catalog schema --out catalog.schema.json
    """
    from . import present

    present.schema(out)


@app.command("render")
def render(
    phase: Annotated[Optional[Phase], typer.Option(help="mvp: Docker Compose for one VPS (compose/); scale: Kubernetes "
                                                        "manifests (k8s/). Default: every phase.")] = None,
    catalog: CatalogOption = DEFAULT_CATALOG,
    out: OutOption = None,
    check: CheckOption = False,
    json_output: JsonOption = False,
) -> None:
    """Render the phases' files from the catalog, deterministically, and print the translation report.

    Phase mvp writes compose/docker-compose.yml, the mock profile and compose/.env.example, and
    creates compose/.env with generated secrets (mode 0600; existing values are never changed or
    shown). Phase scale writes k8s/ (one file per service plus a kustomization). Without --phase,
    the Kestra flows in kestra-flows/ are rendered (and checked) too.

    Examples:
      aipair render                  (every phase)
      aipair render --phase scale
      aipair render --check          (in CI: fails when committed files are stale)
    """
    from . import present
    from .render.files import render_all, render_phase

    with present.reporting(json_output):
        loaded = _load(catalog)
        root = out if out is not None else catalog.parent
        source = _source_name(catalog, root)
        rendering = render_phase(loaded, phase.value, source=source) if phase else render_all(loaded, source=source)
        phases = [phase.value] if phase else [p.value for p in Phase]
        if check:
            from .workspace import compare

            present.check_result(compare(root, rendering.files), rendering, json_output)
            return
        from .secretstore import ensure_env
        from .workspace import write_files

        changed = write_files(root, rendering.files)
        env = ensure_env(loaded, "mvp", root / "compose" / ".env") if "mvp" in phases else None
        present.render_result(root, rendering, changed, env, json_output)


StackOption = Annotated[Optional[str], typer.Option("--stack", help="Pulumi stack (phase scale), e.g. dev or prod.")]
BackendOption = Annotated[Optional[str], typer.Option("--backend", help="Pulumi state backend URL (default: a local "
                                                                        "file backend in stacks/.pulumi).")]


@app.command("deploy")
def deploy(
    phase: Annotated[Phase, typer.Option(help="mvp: the Compose project on one host; scale: Kubernetes through "
                                              "Pulumi (needs --stack).")] = Phase.mvp,
    profile: ProfileOption = Profile.real,
    catalog: CatalogOption = DEFAULT_CATALOG,
    host: HostOption = None,
    timeout: Annotated[int, typer.Option(help="Seconds to wait for every service to be healthy.", min=10)] = 300,
    rollback_on_failure: Annotated[bool, typer.Option("--rollback-on-failure",
                                                      help="If health fails, restore the last successful deploy.")] = False,
    stack: StackOption = None,
    preview: Annotated[bool, typer.Option("--preview", help="Phase scale: show what would change; change nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Phase scale: apply without asking (CI).")] = False,
    backend: BackendOption = None,
    json_output: JsonOption = False,
) -> None:
    """Render, check the target, start everything and wait until it is healthy.

    Phase mvp: Compose on one host. Safe to re-run: unchanged services are not recreated, and data
    volumes are never removed. A service that never becomes healthy fails the deploy (exit 1) with
    its last log lines.

    Phase scale: the Pulumi stack in stacks/ through the Automation API: a preview first, then the
    update after you confirm (or at once with --yes). Missing generated secrets are created in the
    stack's encrypted config.

    Examples:
      aipair deploy --phase mvp --profile mock          (the whole platform offline, on this machine)
      aipair deploy --phase mvp --host ssh://root@vps --rollback-on-failure
      aipair deploy --phase scale --stack prod --preview
    """
    from . import present

    if phase is Phase.scale:
        with present.reporting(json_output):
            loaded = _load(catalog)
            present.stack_deploy(loaded, catalog.parent, _require_stack(stack), preview=preview, yes=yes,
                                 backend=backend, json_output=json_output)
        return
    from .deploy import deploy as run_deploy

    with present.reporting(json_output):
        loaded = _load(catalog)
        with present.progress(json_output) as report:
            result = run_deploy(loaded, catalog.parent, source=_source_name(catalog, catalog.parent),
                                profile=profile.value, host=host, timeout=timeout, rollback=rollback_on_failure,
                                report=report)
        present.deploy_result(result, json_output)


@app.command("destroy")
def destroy(
    phase: Annotated[Phase, typer.Option(help="scale: delete every resource of the Pulumi stack.")] = Phase.scale,
    catalog: CatalogOption = DEFAULT_CATALOG,
    stack: StackOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask first.")] = False,
    backend: BackendOption = None,
    json_output: JsonOption = False,
) -> None:
    """Delete everything a phase-2 stack created (asks first unless --yes). For phase 1 use `aipair down`.

    Example:  aipair destroy --phase scale --stack dev --yes
    """
    from . import present

    with present.reporting(json_output):
        if phase is not Phase.scale:
            raise present.UsageError("phase mvp is taken down with `aipair down`")
        loaded = _load(catalog)
        name = _require_stack(stack)
        if not yes and not typer.confirm(f"Delete every resource of stack {name}?", default=False):
            present.err.print("nothing deleted")
            raise typer.Exit(1)
        present.stack_action("destroy", loaded, catalog.parent, name, backend=backend, json_output=json_output)


@app.command("status")
def status(
    catalog: CatalogOption = DEFAULT_CATALOG,
    host: HostOption = None,
    phase: Annotated[Phase, typer.Option(help="mvp: containers on the host; scale: the Pulumi stack.")] = Phase.mvp,
    stack: StackOption = None,
    backend: BackendOption = None,
    json_output: JsonOption = False,
) -> None:
    """Phase mvp: health table of the deployed project (exit 1 when a service is not ready).
    Phase scale: the stack's resources and exported endpoints.

    Examples:
      aipair status --json
      aipair status --phase scale --stack prod
    """
    from . import present
    from .engines import docker as engine

    with present.reporting(json_output):
        loaded = _load(catalog)
        if phase is Phase.scale:
            present.stack_action("status", loaded, catalog.parent, _require_stack(stack), backend=backend,
                                 json_output=json_output)
            return
        rows = engine.project_containers(engine.connect(host), loaded.project.name)
        present.status_table(loaded.project.name, rows, json_output)


@app.command("logs")
def logs(
    service: Annotated[str, typer.Argument(help="Service name.")],
    catalog: CatalogOption = DEFAULT_CATALOG,
    profile: ProfileOption = Profile.real,
    host: HostOption = None,
    tail: Annotated[int, typer.Option(help="Lines from the end.")] = 100,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
) -> None:
    """Show a service's logs (from Compose).

    Example:  aipair logs qdrant --tail 50 -f
    """
    from . import present
    from .deploy import project_for

    with present.reporting(False):
        loaded = _load(catalog)
        if service not in loaded.services:
            from .catalog.checks import suggest

            raise present.UsageError(f"no service {service!r} in the catalog{suggest(service, list(loaded.services))}")
        args = ["logs", "--tail", str(tail), *(["--follow"] if follow else []), service]
        result = project_for(loaded, catalog.parent, profile.value, host).run(*args, capture=False)
        raise typer.Exit(result.returncode)


@app.command("down")
def down(
    catalog: CatalogOption = DEFAULT_CATALOG,
    profile: ProfileOption = Profile.real,
    host: HostOption = None,
    volumes: Annotated[bool, typer.Option("--volumes", help="Also delete the data volumes (asks first).")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before deleting data.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be removed; change nothing.")] = False,
) -> None:
    """Stop and remove the project's containers and networks. Volumes are kept unless --volumes.

    Example:  aipair down --volumes --yes      (deletes all data!)
    """
    from . import present
    from .deploy import project_for, take_down

    with present.reporting(False):
        loaded = _load(catalog)
        project = project_for(loaded, catalog.parent, profile.value, host)
        names = [f"{loaded.project.name}_{s}-{v.name}" for s, svc in loaded.in_phase("mvp").items() for v in svc.volumes]
        if dry_run:
            present.out.print(f"would stop and remove the containers and networks of project {loaded.project.name}")
            if volumes:
                present.out.print("would delete volumes: " + ", ".join(names))
            return
        if volumes and not yes and not typer.confirm(f"Delete {len(names)} data volumes of {loaded.project.name}?",
                                                     default=False):
            present.err.print("nothing removed")
            raise typer.Exit(1)
        take_down(project, volumes=volumes)
        present.out.print(f"[green]✓[/] project {loaded.project.name} is down" + (" and its volumes deleted" if volumes else
                                                                                  " (volumes kept)"))


@mocks_app.command("build")
def mocks_build(
    host: HostOption = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Make it again even if present.")] = False,
) -> None:
    """Make the mock image on the engine from static busybox (no registry needed).

    Example:  aipair mocks build
    """
    from . import present
    from .engines import docker as engine
    from .engines.mockimage import ensure_mock_image

    with present.reporting(False):
        image, built = ensure_mock_image(engine.connect(host), rebuild=rebuild)
        present.out.print(f"[green]✓[/] {image} {'made' if built else 'already present'}")


@upgrade_app.command("check")
def upgrade_check(
    catalog: CatalogOption = DEFAULT_CATALOG,
    concurrency: Annotated[int, typer.Option(help="Registry requests at once.", min=1, max=64)] = 8,
    candidates_file: Annotated[Optional[Path], typer.Option(
        "--candidates-file", dir_okay=False,
        help="Also write the candidates as a JSON list of {service, version} (what the Kestra watch flow "
             "and CI matrices iterate over); an empty list when nothing is due.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Ask each image's registry for its tags; show current, newest allowed candidate, newest overall, digest.

    Exit codes for CI: 0 nothing is due, 10 candidates exist, 1 a registry could not be read.
    Registries: Docker Hub, GHCR, Quay or any v2 registry; credentials from `docker login`.

    Example:  aipair upgrade check --json --candidates-file candidates.json
    """
    from . import present
    from .upgrade.check import run_check

    with present.reporting(json_output):
        rows = run_check(_load(catalog), concurrency=concurrency)
        if candidates_file is not None:
            import json as _json

            from .workspace import atomic_write

            due = [{"service": r.service, "version": r.candidate} for r in rows if r.due]
            atomic_write(candidates_file, _json.dumps(due) + "\n", mode=0o644)
        present.upgrade_table(rows, json_output)


@upgrade_app.command("validate")
def upgrade_validate(
    service: Annotated[str, typer.Argument(help="Service to try, as in the catalog.")],
    version: Annotated[str, typer.Argument(help="Candidate tag, e.g. from `aipair upgrade check`.")],
    catalog: CatalogOption = DEFAULT_CATALOG,
    host: HostOption = None,
    timeout: Annotated[int, typer.Option(help="Seconds to wait for health.", min=10)] = 300,
    report_file: Annotated[Optional[Path], typer.Option("--report", help="Write the JSON report here.",
                                                        dir_okay=False)] = None,
    json_output: JsonOption = False,
) -> None:
    """Run a candidate with its dependencies in a throw-away project, wait for health, run the smoke tests.

    The throw-away project has its own name, networks and volumes and publishes no host port, so the
    running platform is never touched; it is always torn down, also on failure or Ctrl-C.
    Exit code 0 when the candidate passes, 1 when it fails.

    Example:  aipair upgrade validate qdrant v1.13.5 --report qdrant.json
    """
    from . import present
    from .upgrade.validate import validate

    with present.reporting(json_output):
        loaded = _load(catalog)
        with present.progress(json_output) as report:
            result = validate(loaded, catalog.parent, service, version, host=host, timeout=timeout, report=report)
        if report_file is not None:
            import json as _json

            from .workspace import atomic_write

            atomic_write(report_file, _json.dumps(result.as_dict(), indent=2) + "\n", mode=0o644)
        present.validation_result(result, json_output)


class Runner(str, Enum):
    docker = "docker"
    process = "process"


RunnerOption = Annotated[Optional[Runner], typer.Option(
    "--runner", help="Override the catalog's task runner: docker (the aipair image, production) or process "
                     "(on the Kestra worker itself: local use and tests).")]
ServerOption = Annotated[str, typer.Option("--server", envvar="KESTRA_URL", help="Kestra's URL.")]
TimeoutOption = Annotated[float, typer.Option("--timeout", help="Seconds to wait for each HTTP answer.", min=1)]


def _kestra(server: str, timeout: float) -> Any:
    """A client from --server and the KESTRA_* environment (secrets are never taken as flags)."""
    from .engines.kestra import Credentials, KestraClient

    credentials = Credentials(username=os.environ.get("KESTRA_USER") or None,
                              password=os.environ.get("KESTRA_PASSWORD"),
                              token=os.environ.get("KESTRA_API_TOKEN") or None)
    return KestraClient(server, credentials=credentials, timeout=timeout)


def _require_kestra(loaded: "Catalog", catalog: Path) -> None:
    from . import present

    if loaded.project.kestra is None:
        raise present.UsageError(f"{catalog}: project.kestra is not set, so there are no flows; add it "
                                 "(repository, schedule, runner: see `aipair catalog schema`)")


def _rendered_flows(loaded: "Catalog", catalog: Path, runner: Optional[Runner]) -> dict[str, str]:
    from .flows import sources_by_id
    from .render.files import render_flows

    _require_kestra(loaded, catalog)
    return sources_by_id(render_flows(loaded, source=catalog.name, runner=runner.value if runner else None).files)


@flows_app.command("render")
def flows_render(
    catalog: CatalogOption = DEFAULT_CATALOG,
    runner: RunnerOption = None,
    out: OutOption = None,
    check: CheckOption = False,
    json_output: JsonOption = False,
) -> None:
    """Write kestra-flows/ from the catalog: the scheduled watch flow and the validation flow.

    Examples:
      aipair flows render
      aipair flows render --runner process --out /tmp/local   (flows for a local Kestra)
    """
    from . import present
    from .render.files import render_flows

    with present.reporting(json_output):
        loaded = _load(catalog)
        _require_kestra(loaded, catalog)
        root = out if out is not None else catalog.parent
        rendering = render_flows(loaded, source=_source_name(catalog, root), runner=runner.value if runner else None)
        if check:
            from .workspace import compare

            present.check_result(compare(root, rendering.files), rendering, json_output)
            return
        from .workspace import write_files

        present.render_result(root, rendering, write_files(root, rendering.files), None, json_output)


@flows_app.command("validate")
def flows_validate(
    files: Annotated[Optional[list[Path]], typer.Argument(help="Flow files to check instead of the rendered flows.",
                                                          exists=True, dir_okay=False)] = None,
    catalog: CatalogOption = DEFAULT_CATALOG,
    runner: RunnerOption = None,
    server: ServerOption = "http://localhost:8080",
    timeout: TimeoutOption = 30.0,
    json_output: JsonOption = False,
) -> None:
    """Have the Kestra server validate the flows without saving them; every error with its flow and path.

    Examples:
      aipair flows validate
      aipair flows validate my-flow.yml --server https://kestra.example.com
    """
    from . import present

    with present.reporting(json_output):
        if files:
            sources = {str(path): path.read_text(encoding="utf-8") for path in files}
        else:
            sources = _rendered_flows(_load(catalog), catalog, runner)
        with _kestra(server, timeout) as client:
            present.flow_violations(list(sources), client.validate(list(sources.values())), json_output)


@flows_app.command("register")
def flows_register(
    catalog: CatalogOption = DEFAULT_CATALOG,
    runner: RunnerOption = None,
    server: ServerOption = "http://localhost:8080",
    prune: Annotated[bool, typer.Option("--prune", help="Also delete flows of the namespace that are no longer "
                                                        "rendered (they are listed first).")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Prune without asking (CI).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be created, updated and deleted; "
                                                            "change nothing.")] = False,
    timeout: TimeoutOption = 30.0,
    json_output: JsonOption = False,
) -> None:
    """Validate on the server, then create or update every rendered flow in its namespace.

    Flows of the namespace that are no longer rendered are kept unless --prune. Registering the
    same flows again changes nothing (the revisions stay).

    Examples:
      aipair flows register
      aipair flows register --prune --dry-run
      aipair flows register --runner process --server http://localhost:8080
    """
    from . import present
    from .flows import plan, register, server_revisions, stale_flows

    with present.reporting(json_output):
        loaded = _load(catalog)
        rendered = _rendered_flows(loaded, catalog, runner)
        namespace = loaded.project.kestra_namespace
        with _kestra(server, timeout) as client:
            current = server_revisions(client, namespace)
            if dry_run:
                present.register_result(namespace, plan(client, namespace, rendered, current, prune=prune),
                                        json_output, dry_run=True)
                return
            stale = stale_flows(current, rendered)
            if prune and stale and not yes:
                present.err.print(f"--prune deletes these flows of {namespace}: {', '.join(stale)}")
                if not typer.confirm("Delete them?", default=False):
                    present.err.print("nothing registered or deleted")
                    raise typer.Exit(1)
            changes = register(client, namespace, rendered, before=current, prune=stale if prune else [])
            present.register_result(namespace, changes, json_output)


@flows_app.command("run")
def flows_run(
    flow: Annotated[str, typer.Argument(help="Flow id (in the catalog's namespace) or namespace.id.")],
    inputs: Annotated[Optional[list[str]], typer.Option("--input", "-i", help="An input as NAME=VALUE; repeat it.")] = None,
    catalog: CatalogOption = DEFAULT_CATALOG,
    server: ServerOption = "http://localhost:8080",
    wait: Annotated[float, typer.Option("--wait", help="Seconds to follow the execution before giving up "
                                                      "(it keeps running on the server).", min=1)] = 3600.0,
    timeout: TimeoutOption = 30.0,
    json_output: JsonOption = False,
) -> None:
    """Start an execution and follow it live; the exit code is its final state (0 success, 1 failed).

    Example:  aipair flows run validate-candidate -i service=qdrant -i version=v1.13.5
    """
    from . import present
    from .flows import flow_ref, parse_inputs, run

    with present.reporting(json_output):
        try:
            values = parse_inputs(inputs or [])
        except ValueError as exc:
            raise present.UsageError(str(exc)) from None
        namespace, flow_id = flow_ref(_load(catalog), flow)
        with _kestra(server, timeout) as client, present.execution_display(json_output) as show:
            result = run(client, namespace, flow_id, values, timeout=wait, on_change=show)
        present.execution_result(result, json_output)


@flows_app.command("status")
def flows_status(
    catalog: CatalogOption = DEFAULT_CATALOG,
    runner: RunnerOption = None,
    server: ServerOption = "http://localhost:8080",
    timeout: TimeoutOption = 30.0,
    json_output: JsonOption = False,
) -> None:
    """Each rendered flow on the server: revision, in sync with the catalog or not, last execution.

    Exit code 1 when a flow is missing or differs (run `aipair flows register`).

    Example:  aipair flows status --json
    """
    from . import present
    from .flows import status

    with present.reporting(json_output):
        loaded = _load(catalog)
        rendered = _rendered_flows(loaded, catalog, runner)
        with _kestra(server, timeout) as client:
            present.flow_status(loaded.project.kestra_namespace, client.version(),
                                status(client, loaded.project.kestra_namespace, rendered), json_output)


def _deployer(catalog_path: Path, profile: "Profile", host: str | None, timeout: int, json_output: bool) -> Any:
    """--deploy for apply/rollback: the phase-1 deploy with its health gate and automatic rollback."""
    from . import present
    from .deploy import deploy as run_deploy

    def roll_out(updated: "Catalog") -> bool:
        with present.progress(json_output) as report:
            result = run_deploy(updated, catalog_path.parent, source=catalog_path.name, profile=profile.value,
                                host=host, timeout=timeout, rollback=True, report=report)
        if not json_output:
            try:
                present.deploy_result(result, False)
            except typer.Exit:
                pass
        return bool(result.ok)

    return roll_out


@upgrade_app.command("apply")
def upgrade_apply(
    service: Annotated[str, typer.Argument(help="Service to upgrade.")],
    version: Annotated[str, typer.Argument(help="Tag to move to (validated first, ideally).")],
    catalog: CatalogOption = DEFAULT_CATALOG,
    deploy_too: Annotated[bool, typer.Option("--deploy", help="Roll out (phase 1) with the health gate; if it fails "
                                                              "the old version runs again and the catalog is restored.")] = False,
    profile: ProfileOption = Profile.real,
    host: HostOption = None,
    timeout: Annotated[int, typer.Option(help="Seconds to wait for health with --deploy.", min=10)] = 300,
    json_output: JsonOption = False,
) -> None:
    """Pin SERVICE to VERSION (with the registry's digest) in catalog.yaml, keeping its comments and layout,
    re-render every phase and show the diff. `aipair rollback SERVICE` undoes it.

    Example:  aipair upgrade apply qdrant v1.13.5 --deploy
    """
    from . import present
    from .upgrade.apply import change_image, pinned_image

    with present.reporting(json_output):
        loaded = _load(catalog)
        image = pinned_image(loaded, service, version) if service in loaded.services else version
        deployer = _deployer(catalog, profile, host, timeout, json_output) if deploy_too else None
        present.apply_result(change_image(catalog, service, image, record=True, deploy=deployer), json_output)


@upgrade_app.command("renovate-config")
def upgrade_renovate_config(
    catalog: CatalogOption = DEFAULT_CATALOG,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write here (e.g. renovate.json) instead of stdout.",
                                                dir_okay=False)] = None,
) -> None:
    """A Renovate config (customManagers) that tracks the catalog's images with each service's policy.

    Example:  aipair upgrade renovate-config --out renovate.json
    """
    import json as _json

    from . import present
    from .render.renovate import render_renovate

    with present.reporting(False):
        text = _json.dumps(render_renovate(_load(catalog), catalog.name), indent=2) + "\n"
        if out is None:
            sys.stdout.write(text)
        else:
            from .workspace import atomic_write

            atomic_write(out, text, mode=0o644)
            present.err.print(f"wrote {out}")


@app.command("rollback")
def rollback(
    service: Annotated[str, typer.Argument(help="Service whose last `upgrade apply` to undo.")],
    catalog: CatalogOption = DEFAULT_CATALOG,
    deploy_too: Annotated[bool, typer.Option("--deploy", help="Also roll out the previous version (phase 1).")] = False,
    profile: ProfileOption = Profile.real,
    host: HostOption = None,
    timeout: Annotated[int, typer.Option(help="Seconds to wait for health with --deploy.", min=10)] = 300,
    json_output: JsonOption = False,
) -> None:
    """Return SERVICE to the version it had before the last `aipair upgrade apply`, and re-render.

    Example:  aipair rollback qdrant --deploy
    """
    from . import present
    from .upgrade.apply import rollback as run_rollback

    with present.reporting(json_output):
        _load(catalog)
        deployer = _deployer(catalog, profile, host, timeout, json_output) if deploy_too else None
        present.apply_result(run_rollback(catalog, service, deploy=deployer), json_output)


@host_app.command("bootstrap")
def host_bootstrap(
    host: HostOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be done; change nothing.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Install and start Docker and Compose v2 on a Debian/Ubuntu host (idempotent).

    Examples:
      aipair host bootstrap --dry-run
      aipair host bootstrap --host ssh://root@vps.example.com
    """
    from . import present
    from .bootstrap import bootstrap

    with present.reporting(json_output):
        present.bootstrap_result(bootstrap(host, dry_run=dry_run), dry_run, json_output)


def _require_stack(stack: str | None) -> str:
    from .present import UsageError

    if not stack:
        raise UsageError("phase scale needs --stack NAME (for example dev or prod: stacks/Pulumi.<name>.yaml)")
    return stack


def _load(path: Path) -> "Catalog":
    from .catalog import load_catalog

    return load_catalog(path)


def _source_name(catalog: Path, root: Path) -> str:
    """How generated headers name the catalog: relative to the output root when possible."""
    try:
        return os.path.relpath(catalog.resolve(), root.resolve())
    except ValueError:  # another drive on Windows
        return catalog.name


def main() -> None:
    # aipair uses no pydantic plugins; skipping their discovery (importlib.metadata) saves ~45 ms a start.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    app()
