"""`aipair upgrade …` and `aipair rollback`: keep components current."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from ..ops.callbacks import Deployer

from .options import (
    DEFAULT_CATALOG,
    CatalogOption,
    HealthTimeoutOption,
    HostOption,
    JsonOption,
    ProfileChoice,
    ProfileOption,
    load,
)

app = typer.Typer(help="Keep components current: find newer versions allowed by each service's policy.\n\n"
                       "Example:  aipair upgrade check --json",
                  no_args_is_help=True)

DeployOption = Annotated[
    bool,
    typer.Option("--deploy",
                 help="Roll out (phase 1) with the health gate; if it fails "
                      "the old version runs again and the catalog is restored."),
]


@app.command("check")
def check(catalog: CatalogOption = DEFAULT_CATALOG,
          concurrency: Annotated[int, typer.Option(help="Registry requests at once.", min=1, max=64)] = 8,
          candidates_file: Annotated[Optional[Path], typer.Option(
              "--candidates-file", dir_okay=False,
              help="Also write the candidates as a JSON list of {service, version} (what the Kestra watch flow "
                   "and CI matrices iterate over); an empty list when nothing is due.")] = None,
          inspect: Annotated[bool, typer.Option(
              "--inspect/--no-inspect",
              help="Read each candidate's image from the registry first (config and layers, no engine) and "
                   "reject one that breaks what the catalog assumes and the current image keeps: the probe "
                   "program, the user, the ports, linux/amd64.")] = True,
          json_output: JsonOption = False) -> None:
    """Ask each image's registry for its tags; show current, newest allowed candidate, newest overall, digest,
    and whether the candidate keeps the catalog's assumptions about its image.

    Exit codes for CI: 0 nothing is due, 10 candidates are due, 1 a registry could not be read, or nothing
    is due but a candidate was rejected (a rejected one is left out of --candidates-file; the table says why).
    Registries: Docker Hub, GHCR, Quay or any v2 registry; credentials from `docker login`.

    Example:  aipair upgrade check --json --candidates-file candidates.json
    """
    from ..ops import images
    from ..ops.upgrade.check import check as run_check
    from .output import conclude, reporting
    from .present.upgrade import show_check

    with reporting(json_output):
        report = run_check(load(catalog), concurrency=concurrency, candidates_file=candidates_file,
                           inspector=images.registry_inspector() if inspect else None)
        conclude(report, json_output, show_check)


@app.command("validate")
def validate(service: Annotated[str, typer.Argument(help="Service to try, as in the catalog.")],
             version: Annotated[str, typer.Argument(help="Candidate tag, e.g. from `aipair upgrade check`.")],
             catalog: CatalogOption = DEFAULT_CATALOG, host: HostOption = None, timeout: HealthTimeoutOption = 300,
             report_file: Annotated[Optional[Path], typer.Option("--report", help="Write the JSON report here.",
                                                                 dir_okay=False)] = None,
             inspect: Annotated[bool, typer.Option(
                 "--inspect/--no-inspect",
                 help="Read the candidate's image from the registry first; one that breaks what the catalog "
                      "assumes and the current image keeps fails at stage 'image' with nothing run.")] = True,
             with_data: Annotated[bool, typer.Option(
                 "--with-data",
                 help="Start the throw-away volumes as copies of the running deployment's (of --profile), so "
                      "migrations run on real data. The live services that write them are stopped for the "
                      "copy (seconds, reported) and started again; the originals are only read, never written, "
                      "and the copies are removed with the throw-away project. The generated secrets that "
                      "guard the copied data (e.g. a database's superuser password) keep their live values "
                      "there, never shown; supplied secrets, JWTs and their signing keys stay fresh.")] = False,
             profile: ProfileOption = ProfileChoice.real,
             json_output: JsonOption = False) -> None:
    """Run a candidate with its dependencies in a throw-away project, wait for health, run the smoke tests.

    First the candidate's image is read from its registry (no engine): a candidate whose probe program,
    user, ports or linux/amd64 no longer match what the catalog assumes fails before anything runs.
    The throw-away project has its own name, networks and volumes and publishes no host port, so the
    running platform is never touched; it is always torn down, also on failure or Ctrl-C.
    With --with-data it starts on a copy of the live data (see the option); a failed copy fails at stage 'data'.
    A service of a lockstep group (upgrade.group) is validated with every member at VERSION (in each member's
    own tag shape: 2.1.0 is v2.1.0 for a member tagged v2.0.0), together in one project
    (<project>-validate-<group>); one member failing fails the group, and the report names it.
    Exit code 0 when the candidate passes, 1 when it fails. Every verdict is appended to upgrade-ledger.jsonl
    beside the catalog (the candidate's digest, the catalog's hash, the report's hash): commit it with the
    catalog, `aipair upgrade apply` pins only a digest with a passing record there.

    Example:  aipair upgrade validate qdrant v1.13.5 --report qdrant.json
    """
    from ..ops import images
    from ..ops.upgrade.validate import validate as run_validate
    from ..ops.upgrade.with_data import LiveDeployment
    from .output import conclude, progress, reporting
    from .present.upgrade import show_validation

    with reporting(json_output):
        loaded = load(catalog)
        with progress(json_output) as report:
            result = run_validate(loaded, service, version, host=host, timeout=timeout, report=report,
                                  report_file=report_file, catalog_path=catalog,
                                  inspector=images.registry_inspector() if inspect else None,
                                  with_data=LiveDeployment(catalog.parent, profile.value) if with_data else None)
        conclude(result, json_output, show_validation)


@contextmanager
def _deploy_gate(enabled: bool, catalog: Path, profile: ProfileChoice, host: str | None, timeout: int,
                 json_output: bool, restore_data_of: str | None = None) -> Iterator[Deployer | None]:
    """--deploy: the phase-1 deploy with its health gate, its progress shown and its result presented as
    `aipair deploy` shows them; None without --deploy."""
    if not enabled:
        yield None
        return
    from ..ops.deploy import deploy_gate
    from .output import progress
    from .present.deploy import show_deploy

    with progress(json_output) as report:
        yield deploy_gate(catalog.parent, source=catalog.name, profile=profile.value, host=host, timeout=timeout,
                          restore_data_of=restore_data_of, progress=report, on_result=(lambda _result: None) if json_output else show_deploy)


@contextmanager
def _interrupted(json_output: bool) -> Iterator[None]:
    """Ctrl-C during apply or rollback: the use case has put every file back; say so (also in --json)."""
    try:
        yield
    except KeyboardInterrupt:
        from .output import Failure, emit, err, escape

        message = ("interrupted: catalog.yaml, the rendered files and the upgrade history are as they were; "
                   "if a deploy had begun, `aipair deploy` brings the running services back in line with catalog.yaml")
        if json_output:
            emit(Failure(error=message))
        else:
            err.print(f"[bold red]✗[/] {escape(message)}")
        raise  # Typer ends a Ctrl-C'd command with 130, as every other command


@app.command("apply")
def apply(service: Annotated[str, typer.Argument(help="Service to upgrade.")],
          version: Annotated[str, typer.Argument(help="Tag to move to (validated first, ideally).")],
          catalog: CatalogOption = DEFAULT_CATALOG, deploy_too: DeployOption = False,
          profile: ProfileOption = ProfileChoice.real, host: HostOption = None, timeout: HealthTimeoutOption = 300,
          unvalidated: Annotated[bool, typer.Option(
              "--unvalidated",
              help="Apply a digest that has no passing `aipair upgrade validate` record for this catalog in "
                   "upgrade-ledger.jsonl; the ledger records the apply as unvalidated.")] = False,
          json_output: JsonOption = False) -> None:
    """Pin SERVICE to VERSION (with the registry's digest) in catalog.yaml, keeping its comments and layout,
    re-render every phase and show the diff. `aipair rollback SERVICE` undoes it.

    The digest must have passed `aipair upgrade validate` for this catalog (a record in upgrade-ledger.jsonl
    beside it; a tag pushed again since does not count): exit 2 otherwise, unless --unvalidated.
    A service of a lockstep group (upgrade.group) moves with every member, in one edit: the ledger must hold
    one passing record of the whole group (a member validated alone does not count); rollback undoes them all.

    Example:  aipair upgrade apply qdrant v1.13.5 --deploy
    """
    from ..ops.upgrade.apply import apply as run_apply
    from .output import conclude, reporting
    from .present.upgrade import show_apply

    with reporting(json_output), _interrupted(json_output):
        with _deploy_gate(deploy_too, catalog, profile, host, timeout, json_output) as gate:
            result = run_apply(catalog, service, version, deploy=gate, unvalidated=unvalidated)
        conclude(result, json_output, show_apply)


@app.command("renovate-config")
def renovate_config(catalog: CatalogOption = DEFAULT_CATALOG,
                    out: Annotated[Optional[Path], typer.Option(
                        "--out", "-o", dir_okay=False, help="Write here (e.g. renovate.json) instead of stdout.")
                    ] = None) -> None:
    """A Renovate config (customManagers) that tracks the catalog's images with each service's policy.

    Example:  aipair upgrade renovate-config --out renovate.json
    """
    from ..ops.upgrade.renovate import renovate_config as make_config
    from .output import reporting
    from .present.common import show_document

    with reporting(False):
        show_document(make_config(load(catalog), catalog, out), out)


def rollback(service: Annotated[str, typer.Argument(help="Service whose last `upgrade apply` to undo.")],
             catalog: CatalogOption = DEFAULT_CATALOG,
             deploy_too: Annotated[bool, typer.Option("--deploy", help="Also roll out the previous version (phase 1).")
                                    ] = False,
             restore_data: Annotated[bool, typer.Option(
                 "--restore-data", help="With --deploy: before the old version starts, put back the data snapshot "
                                        "taken when the version being rolled back was deployed (its migrations undone).")
                                     ] = False,
             profile: ProfileOption = ProfileChoice.real, host: HostOption = None, timeout: HealthTimeoutOption = 300,
             json_output: JsonOption = False) -> None:
    """Return SERVICE to the version it had before the last `aipair upgrade apply`, and re-render; a service
    applied with its lockstep group goes back with every member of that apply.

    With --restore-data the newest snapshot set holding SERVICE's data (or that of the databases it
    migrates) written by the version rolled back to is restored before that version starts; what was
    written since is lost, though the deploy snapshots it first. No such set: nothing is changed.

    \b
    Examples:
      aipair rollback qdrant --deploy
      aipair rollback twenty --deploy --restore-data
    """
    from ..ops.upgrade.apply import rollback as run_rollback
    from .output import conclude, reporting
    from .present.upgrade import show_apply

    with reporting(json_output), _interrupted(json_output):
        if restore_data and not deploy_too:
            from ..errors import UsageError

            raise UsageError("--restore-data restores the data as the old version is deployed: add --deploy")
        with _deploy_gate(deploy_too, catalog, profile, host, timeout, json_output,
                          restore_data_of=service if restore_data else None) as gate:
            result = run_rollback(catalog, service, deploy=gate)
        conclude(result, json_output, show_apply)
