"""Kestra flows: the server's validation, registration, live executions and status."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ...engines.kestra_answers import Execution
from ...ops.flows import RegisterResult, RunResult, StatusResult, ValidationResult
from ..output import err, escape, out, table

if TYPE_CHECKING:
    from rich.table import Table

COLOURS = {"SUCCESS": "green", "FAILED": "red", "RUNNING": "cyan", "WARNING": "yellow", "KILLED": "red"}
ACTION_COLOURS = {
    "created": "green",
    "create": "green",
    "updated": "yellow",
    "update": "yellow",
    "deleted": "red",
    "delete": "red",
    "kept": "dim",
    "keep": "dim",
    "unchanged": "dim",
}


def show_validation(result: ValidationResult) -> None:
    """The server's verdict on each flow."""
    for verdict in result.flows:
        name = verdict.flow or verdict.name or f"#{verdict.index}"
        out.print(f"{'[red]✗' if verdict.constraints else '[green]✓'}[/] {escape(name)}")
        if verdict.constraints:  # Kestra's own message, verbatim (it may span lines)
            for line in verdict.constraints.splitlines():
                out.print(f"    [red]{escape(line)}[/]")
        notes = [f"warning: {w}" for w in verdict.warnings] + [f"deprecated: {d}" for d in verdict.deprecations]
        if verdict.outdated:
            notes.append("outdated: the revision in the source is not the server's next one")
        for note in notes:
            out.print(f"    [yellow]{escape(note)}[/]")
        for info in verdict.infos:
            out.print(f"    [dim]{escape(info)}[/]")


def show_register(result: RegisterResult) -> None:
    """What register did, or on a dry run what it would do (create/update/unchanged/delete/keep)."""
    title = (
        f"would register in {result.namespace} (dry run: nothing changed)"
        if result.dry_run
        else f"flows in {result.namespace}"
    )
    view = table(title, ["flow", "action", "revision"], fold=False)
    for change in result.flows:
        before = "-" if change.revision_before is None else str(change.revision_before)
        after = "-" if change.revision_after is None else str(change.revision_after)
        label = (
            f"{change.action} (not rendered; --prune deletes)" if change.action in ("kept", "keep") else change.action
        )
        view.add_row(
            escape(change.flow),
            f"[{ACTION_COLOURS.get(change.action, 'white')}]{escape(label)}[/]",
            before if result.dry_run else (after if before == after else f"{before} → {after}"),
        )
    out.print(view)


def _execution_table(execution: Execution) -> Table:
    view = table(
        f"{escape(str(execution.namespace))}.{escape(str(execution.flow))} execution {escape(execution.id)}: "
        f"[{COLOURS.get(execution.state, 'white')}]{escape(execution.state)}[/]",
        ["task", "state", "value"],
    )
    for task in execution.tasks:
        view.add_row(
            escape(task.task),
            f"[{COLOURS.get(task.state, 'white')}]{escape(task.state)}[/]",
            escape(str(task.value or "")),
        )
    return view


@contextmanager
def live_execution(json_output: bool) -> Iterator[Callable[[Execution], None]]:
    """A live table of the execution's task runs (nothing on --json); yields the callback to feed it."""
    if json_output:
        yield lambda _execution: None
        return
    from rich.live import Live

    with Live(console=err.console(), transient=False, auto_refresh=False) as live:
        yield lambda execution: live.update(_execution_table(execution), refresh=True)


def show_run(result: RunResult) -> None:
    execution = result.execution
    for name, value in execution.outputs.items():
        out.print(f"output [bold]{escape(str(name))}[/]: {escape(str(value))}")
    for line in result.problems:
        err.print(f"[red]{escape(line.task or '')}[/] {escape(line.message)}")
    mark = "[green]✓" if result.ok else "[bold red]✗"
    out.print(f"{mark}[/] execution {escape(execution.id)} ended {escape(execution.state)}")


def show_status(result: StatusResult) -> None:
    """The table, then each drifted flow's diff (rendered → server); the server's text is escaped."""
    view = table(
        f"{escape(result.namespace)} on Kestra {escape(result.server_version)}",
        ["flow", "revision", "catalog", "read-only", "last execution", "started"],
        fold=False,
    )
    for row in result.flows:
        sync = {"in sync": "[green]in sync[/]", "missing": "[red]missing[/]"}.get(row.state, "[yellow]drift[/]")
        view.add_row(
            escape(row.flow),
            "-" if row.revision is None else str(row.revision),
            sync,
            "-" if row.read_only is None else ("yes" if row.read_only else "[yellow]no[/]"),
            escape(row.last_state or "-"),
            escape(row.last_start or "-"),
        )
    out.print(view)
    for row in result.flows:
        if row.state != "drift":
            continue
        out.print(
            f"[yellow]{escape(row.flow)}[/] (revision {row.revision}) differs from the rendered flow: edited on "
            "the server, or the catalog changed since it was registered"
        )
        for line in row.diff:
            colour = "red" if line.startswith("-") else ("green" if line.startswith("+") else "dim")
            out.print(f"  [{colour}]{escape(line)}[/]")
    if not result.ok:
        err.print("run `aipair flows register` to bring the server in line with the catalog")
