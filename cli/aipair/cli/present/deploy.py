"""Deploys, the project's health table, Pulumi stacks and `down`."""

from __future__ import annotations

from ...engines.docker import ContainerStatus
from ...engines.pulumi import StackResult
from ...ops.callbacks import Progress
from ...ops.deploy import DeployResult
from ...ops.operate import DownResult, ProjectStatus
from ..output import err, escape, out, table
from .snapshots import show_deploy_snapshot


def container_table(project: str, rows: list[ContainerStatus]) -> None:
    view = table(
        f"{escape(project)}: {sum(r.ok for r in rows)}/{len(rows)} services ready",
        ["service", "image", "state", "health", "published ports"],
    )
    for row in rows:
        colour = "green" if row.ok else "red"
        state = row.state if row.kind != "job" else f"{row.state} ({row.exit_code})"
        view.add_row(
            escape(row.service),
            escape(row.image),
            f"[{colour}]{escape(state)}[/]",
            f"[{colour}]{escape(row.health)}[/]",
            escape("\n".join(row.ports)),
        )
    out.print(view)


def show_project_status(status: ProjectStatus) -> None:
    container_table(status.project, status.services)
    if not status.services:
        err.print(f"no containers of project {status.project} are deployed")


def show_deploy(result: DeployResult) -> None:
    for check in result.checks:
        out.print(f"{'[green]✓' if check.ok else '[red]✗'}[/] {check.name}: {escape(check.detail)}")
    container_table(result.project, result.statuses)
    soaked = result.soak
    if soaked is not None and soaked.watched and not soaked.skipped:
        colour, said = ("green", "passed") if soaked.ok else ("bold red", "failed")
        out.print(f"[{colour}]soak {said}[/] after {soaked.elapsed:.0f} of {soaked.seconds:.0f} s")
    for problem in soaked.problems if soaked else []:
        err.print(f"[bold red]{escape(problem.service)} {escape(problem.what)} {problem.after:.0f} s into the soak[/]")
    for service, text in result.logs.items():
        why = "failed its soak" if soaked and service in soaked.failed else "did not become ready"
        err.print(f"[bold red]{escape(service)} {why}; its last log lines:[/]")
        err.print(escape(text.rstrip() or "(no output)"))
    if not result.ok and not result.logs and result.compose_output.strip():
        err.print("[bold red]Compose said:[/]")
        err.print(escape("\n".join(result.compose_output.strip().splitlines()[-15:])))
    show_deploy_snapshot(result.snapshot, result.restored_data, result.pruned)
    for item in result.restored:
        out.print(f"[yellow]restored[/] {escape(item['service'])}: {escape(item['from'])} → {escape(item['to'])}")
    verdict = "[green]✓ deployed[/]" if result.ok else f"[bold red]✗ not ready: {', '.join(result.failed)}[/]"
    out.print(f"{verdict} in {result.seconds:.1f} s")


def pulumi_lines(json_output: bool) -> Progress:
    """Pulumi's own progress lines on stderr; nothing with --json."""
    if json_output:
        return lambda _line: None
    return lambda line: err.print(escape(line.rstrip()), highlight=False)


def show_stack(result: StackResult) -> None:
    if result.generated:
        out.print(
            f"[green]generated[/] {len(result.generated)} secrets into the stack's encrypted config (values not shown)"
        )
    changes = ", ".join(f"{k}: {v}" for k, v in sorted(result.changes.items())) or "no changes"
    out.print(f"[green]✓[/] stack {escape(result.stack)} {escape(result.action)}: {escape(changes)}")
    for key, value in sorted(result.outputs.items()):
        out.print(f"  {escape(str(key))}: {escape(str(value))}")


def show_down(result: DownResult) -> None:
    if result.dry_run:
        out.print(f"would stop and remove the containers and networks of project {result.project}")
        if result.delete_volumes:
            out.print("would delete volumes: " + escape(", ".join(result.volumes)))
        return
    out.print(
        f"[green]✓[/] project {result.project} is down"
        + (" and its volumes deleted" if result.delete_volumes else " (volumes kept)")
    )
