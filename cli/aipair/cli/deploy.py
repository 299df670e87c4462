"""Deploying and operating: `aipair deploy`, `destroy`, `status`, `logs`, `down`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import (
    DEFAULT_CATALOG,
    BackendOption,
    CatalogOption,
    HealthTimeoutOption,
    HostOption,
    JsonOption,
    PhaseChoice,
    ProfileChoice,
    ProfileOption,
    StackOption,
    YesOption,
    load,
)


def deploy(phase: Annotated[PhaseChoice, typer.Option(help="mvp: the Compose project on one host; scale: Kubernetes "
                                                           "through Pulumi (needs --stack).")] = PhaseChoice.mvp,
           profile: ProfileOption = ProfileChoice.real, catalog: CatalogOption = DEFAULT_CATALOG,
           host: HostOption = None, timeout: HealthTimeoutOption = 300,
           rollback_on_failure: Annotated[bool, typer.Option(
               "--rollback-on-failure", help="If health fails, restore the last successful deploy.")] = False,
           soak: Annotated[Optional[str], typer.Option(
               "--soak", metavar="DURATION",
               help="Phase mvp: watch every service this long after the health gate (30s, 2m; 0 skips), instead "
                    "of the catalog's defaults.soak and per-service soak.")] = None,
           no_snapshot: Annotated[bool, typer.Option(
               "--no-snapshot", help="Phase mvp: do not snapshot the data of changed stateful services first (a "
                                     "rollback then cannot restore it).")] = False,
           stack: StackOption = None,
           preview: Annotated[bool, typer.Option("--preview",
                                                 help="Phase scale: show what would change; change nothing.")] = False,
           yes: Annotated[bool, typer.Option("--yes", "-y", help="Phase scale: apply without asking (CI).")] = False,
           backend: BackendOption = None, json_output: JsonOption = False) -> None:
    """Render, check the target, start everything and wait until it is healthy.

    Phase mvp: Compose on one host. Safe to re-run: unchanged services are not recreated, and data
    volumes are never removed. A service that never becomes healthy fails the deploy (exit 1) with
    its last log lines. After the gate the services are watched for a while (the catalog's soak,
    default 30s, or --soak): a restart, a health flap or an OOM kill fails the deploy too.
    Before a stateful service's image changes (or that of a service which migrates a declared
    database), its data volumes are snapshotted with their writers stopped; --rollback-on-failure
    restores them with the old image (`aipair snapshots` lists and prunes them; --no-snapshot skips).

    Phase scale: the Pulumi stack in stacks/ through the Automation API: a preview first, then the
    update after you confirm (or at once with --yes). Missing generated secrets are created in the
    stack's encrypted config.

    \b
    Examples:
      aipair deploy --phase mvp --profile mock          (the whole platform offline, on this machine)
      aipair deploy --phase mvp --host ssh://root@vps --rollback-on-failure
      aipair deploy --phase scale --stack prod --preview
    """
    from .output import asker, conclude, progress, reporting
    from .present.deploy import pulumi_lines, show_deploy, show_stack

    if phase is PhaseChoice.scale:
        from ..ops import stack as stacks

        with reporting(json_output):
            loaded = load(catalog)
            result = stacks.deploy_stack(loaded, catalog.parent, stacks.require_stack(stack), preview_only=preview,
                                   confirm=asker(yes), backend=backend, output=pulumi_lines(json_output))
            conclude(result, json_output, show_stack)
        return
    from ..engines.soak import parse_duration
    from ..errors import UsageError
    from ..ops.deploy import deploy as run_deploy
    from ..ops.render import source_name

    with reporting(json_output):
        try:
            soak_seconds = None if soak is None else parse_duration(soak)
        except ValueError as exc:
            raise UsageError(f"--soak: {exc}") from None
        loaded = load(catalog)
        with progress(json_output) as report:
            outcome = run_deploy(loaded, catalog.parent, source=source_name(catalog, catalog.parent),
                                 profile=profile.value, host=host, timeout=timeout, rollback=rollback_on_failure,
                                 soak=soak_seconds, snapshots=not no_snapshot, report=report)
        conclude(outcome, json_output, show_deploy)


def destroy(phase: Annotated[PhaseChoice, typer.Option(help="scale: delete every resource of the Pulumi stack.")
                            ] = PhaseChoice.scale,
            catalog: CatalogOption = DEFAULT_CATALOG, stack: StackOption = None, yes: YesOption = False,
            backend: BackendOption = None, json_output: JsonOption = False) -> None:
    """Delete everything a phase-2 stack created (asks first unless --yes). For phase 1 use `aipair down`.

    Example:  aipair destroy --phase scale --stack dev --yes
    """
    from ..errors import UsageError
    from ..ops import stack as stacks
    from .output import asker, conclude, reporting
    from .present.deploy import pulumi_lines, show_stack

    with reporting(json_output):
        if phase is not PhaseChoice.scale:
            raise UsageError("phase mvp is taken down with `aipair down`")
        loaded = load(catalog)
        name = stacks.require_stack(stack)
        result = stacks.destroy_stack(loaded, catalog.parent, name, confirm=asker(yes), backend=backend,
                                output=pulumi_lines(json_output))
        conclude(result, json_output, show_stack)


def status(catalog: CatalogOption = DEFAULT_CATALOG, host: HostOption = None,
           phase: Annotated[PhaseChoice, typer.Option(help="mvp: containers on the host; scale: the Kubernetes "
                                                           "cluster (and the Pulumi stack with --stack).")
                            ] = PhaseChoice.mvp,
           stack: StackOption = None, backend: BackendOption = None, json_output: JsonOption = False,
           profile: ProfileOption = ProfileChoice.real,
           kubeconfig: Annotated[Optional[Path], typer.Option(
               "--kubeconfig", help="Phase scale: the kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, "
                                    "or the in-cluster service account).", dir_okay=False)] = None,
           context: Annotated[Optional[str], typer.Option(
               "--context", help="Phase scale: the kubeconfig context (default: its current context).")] = None
           ) -> None:
    """Phase mvp: health table of the deployed project (exit 1 when a service is not ready).

    Phase scale: read the catalog's namespace from the cluster, however it was deployed: per workload
    the desired, updated, ready and available replicas (Jobs: completions); every pod that is not
    ready and why (Unschedulable, CrashLoopBackOff, ImagePullBackOff, …); the autoscalers; the recent
    warning events. Exit 1 when a workload is missing or not ready, 3 when the cluster cannot be
    reached. With --stack the Pulumi stack's outputs are shown too. Nothing is changed.

    \b
    Examples:
      aipair status --json
      aipair status --phase scale
      aipair status --phase scale --kubeconfig ~/.kube/prod.yaml --context prod --json
      aipair status --phase scale --stack prod
    """
    from .output import conclude, reporting
    from .present.deploy import show_project_status

    with reporting(json_output):
        loaded = load(catalog)
        if phase is PhaseChoice.scale:
            from ..ops.cluster import cluster_status
            from .present.cluster import show_cluster

            outputs = None
            if stack is not None:
                from ..ops import stack as stacks

                outputs = stacks.stack_status(loaded, catalog.parent, stack, backend=backend)
            scale = cluster_status(loaded, kubeconfig, context)
            conclude(scale.model_copy(update={"stack": outputs}), json_output, show_cluster)
            return
        from ..ops.operate import project_status

        result = project_status(loaded, host, profile.value)
        conclude(result, json_output, show_project_status)


def logs(service: Annotated[str, typer.Argument(help="Service name.")], catalog: CatalogOption = DEFAULT_CATALOG,
         profile: ProfileOption = ProfileChoice.real, host: HostOption = None,
         tail: Annotated[int, typer.Option(help="Lines from the end.")] = 100,
         follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False) -> None:
    """Show a service's logs (from Compose).

    Example:  aipair logs qdrant --tail 50 -f
    """
    from ..ops.operate import logs as show_logs
    from .output import escape, out, reporting

    def show(line: str) -> None:  # through the safe console: a container's escape sequences are shown, not run
        out.print(escape(line), highlight=False)

    with reporting(False):
        code = show_logs(load(catalog), catalog.parent, service, profile=profile.value, host=host, tail=tail,
                         follow=follow, on_line=show)
    raise typer.Exit(code)


def down(catalog: CatalogOption = DEFAULT_CATALOG, profile: ProfileOption = ProfileChoice.real, host: HostOption = None,
         volumes: Annotated[bool, typer.Option("--volumes", help="Also delete the data volumes (asks first).")] = False,
         yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before deleting data.")] = False,
         dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be removed; change nothing.")
                            ] = False) -> None:
    """Stop and remove the project's containers and networks. Volumes are kept unless --volumes.

    Example:  aipair down --volumes --yes      (deletes all data!)
    """
    from ..ops.operate import down as take_down
    from .output import asker, reporting
    from .present.deploy import show_down

    with reporting(False):
        show_down(take_down(load(catalog), catalog.parent, profile=profile.value, host=host, volumes=volumes,
                            dry_run=dry_run, confirm=asker(yes)))
