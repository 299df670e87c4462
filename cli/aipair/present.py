"""Terminal and JSON presentation of command results. No decisions are made here."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import typer

from .errors import AipairError, CatalogError

if TYPE_CHECKING:
    from rich.table import Table

    from .catalog.model import Catalog
    from .render.files import Rendering


class _LazyConsole:
    """A rich Console made on first use: `--json` runs never import rich (about 35 ms of start-up)."""

    def __init__(self, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.console(), name)

    def console(self) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr, highlight=False, soft_wrap=True)
        return self._console


out = _LazyConsole(stderr=False)
err = _LazyConsole(stderr=True)


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def _table(*args: Any, **kwargs: Any) -> "Table":
    from rich.table import Table

    return Table(*args, **kwargs)


class UsageError(AipairError):
    exit_code = 2


def emit_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, sort_keys=False) + "\n")


@contextmanager
def reporting(json_output: bool) -> Iterator[None]:
    """Turn an AipairError into a message (or JSON) and its exit code; never a traceback."""
    try:
        yield
    except CatalogError as exc:
        if json_output:
            emit_json({"ok": False, "problems": [p.as_dict() for p in exc.problems]})
        else:
            count = len(exc.problems)
            err.print(f"[bold red]✗ {count} problem{'s' if count != 1 else ''} in the catalog[/]")
            for problem in exc.problems:
                err.print(f"  {escape(str(problem))}")
        raise typer.Exit(exc.exit_code) from None
    except AipairError as exc:
        if json_output:
            emit_json({"ok": False, "error": str(exc)})
        else:
            err.print(f"[bold red]✗[/] {escape(str(exc))}")
        raise typer.Exit(exc.exit_code) from None


def validated(path: Path, catalog: "Catalog", json_output: bool) -> None:
    summary = {
        "ok": True,
        "catalog": str(path),
        "services": len(catalog.services),
        "secrets": len(catalog.secrets),
        "phases": {phase: len(catalog.in_phase(phase)) for phase in ("mvp", "scale")},
    }
    if json_output:
        emit_json(summary)
        return
    out.print(f"[green]✓[/] {escape(str(path))} is valid: {summary['services']} services "
              f"({summary['phases']['mvp']} in mvp, {summary['phases']['scale']} in scale), {summary['secrets']} secrets")


def _public_hosts(catalog: "Catalog", name: str) -> list[str]:
    service = catalog.services[name]
    return [catalog.expand(p.public.hostname) + (p.public.path if p.public.path != "/" else "")
            for p in service.ports if p.public]


def service_list(catalog: "Catalog", phase: str | None, json_output: bool) -> None:
    services = catalog.services if phase is None else catalog.in_phase(phase)
    rows = [
        {
            "name": name,
            "layer": svc.layer,
            "kind": svc.kind,
            "image": svc.image,
            "phases": svc.phases,
            "ports": [p.port for p in svc.ports],
            "public": _public_hosts(catalog, name),
            "depends_on": list(svc.depends_on),
        }
        for name, svc in services.items()
    ]
    if json_output:
        emit_json(rows)
        return
    table = _table(title=f"{catalog.project.description or catalog.project.name}: {len(rows)} services", title_justify="left")
    for column in ("service", "layer", "kind", "image", "phases", "public", "depends on"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row["name"], row["layer"], row["kind"], row["image"], ",".join(row["phases"]),
                      "\n".join(row["public"]), ", ".join(row["depends_on"]))
    out.print(table)


def service_detail(catalog: "Catalog", name: str, json_output: bool) -> None:
    from .catalog.graph import dependency_closure
    from .catalog.checks import suggest

    if name not in catalog.services:
        raise UsageError(f"no service {name!r} in the catalog{suggest(name, list(catalog.services))}")
    service = catalog.services[name]
    detail = service.model_dump(mode="json")
    detail["depends_on_all"] = sorted(dependency_closure(catalog, name))
    detail["dependents"] = [other for other, svc in catalog.services.items() if name in svc.depends_on]
    if json_output:
        emit_json({"name": name, **detail})
        return
    from rich.syntax import Syntax

    from .render.files import dump_yaml

    out.print(Syntax(dump_yaml({name: detail}), "yaml", theme="ansi_dark", background_color="default"))


def graph(catalog: "Catalog", phase: str | None, fmt: str, json_output: bool) -> None:
    from .catalog.graph import condition, start_waves

    waves = start_waves(catalog, phase)
    services = catalog.services if phase is None else catalog.in_phase(phase)
    if json_output:
        emit_json({"waves": waves, "edges": [{"from": n, "to": d, "condition": condition(services, n, d)}
                                             for n, s in services.items() for d in s.depends_on if d in services]})
        return
    if fmt == "mermaid":
        lines = ["flowchart LR"]
        for name, svc in services.items():
            lines += [f"  {name} -->|{condition(services, name, dep)}| {dep}" for dep in svc.depends_on if dep in services]
            if not svc.depends_on:
                lines.append(f"  {name}")
        sys.stdout.write("\n".join(lines) + "\n")
        return
    table = _table(title="Start order (each wave waits for the earlier ones)", title_justify="left")
    table.add_column("wave", justify="right")
    table.add_column("services", overflow="fold")
    for index, wave in enumerate(waves, start=1):
        table.add_row(str(index), ", ".join(wave))
    out.print(table)


def schema(path: Path | None) -> None:
    from .catalog.model import Catalog

    document = Catalog.model_json_schema()
    document = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "aipair service catalog", **document}
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    if path is None:
        sys.stdout.write(text)
    else:
        from .workspace import atomic_write

        atomic_write(path, text, mode=0o644)
        err.print(f"[green]✓[/] wrote {escape(str(path))}")


def _notes_table(rendering: "Rendering") -> "Table":
    table = _table(title=f"Translation report (phase {rendering.phase}): what the target cannot express as written",
                  title_justify="left", show_lines=False)
    table.add_column("topic")
    table.add_column("service")
    table.add_column("what happens", overflow="fold")
    for note in rendering.notes:
        table.add_row(note.topic, note.service or "(all)", note.message)
    return table


def render_result(root: Path, rendering: "Rendering", changed: list[str], env: Any, json_output: bool) -> None:
    payload: dict[str, Any] = {
        "ok": True,
        "phase": rendering.phase,
        "files": [{"path": path, "changed": path in changed} for path in rendering.files],
        "notes": [note.as_dict() for note in rendering.notes],
    }
    if env is not None:
        payload["env"] = {"path": str(env.path), "generated": env.generated, "kept": len(env.kept),
                          "unset_supplied": env.unset_supplied}
    if json_output:
        emit_json(payload)
        return
    for path in rendering.files:
        mark = "[green]wrote[/]" if path in changed else "[dim]unchanged[/]"
        out.print(f"{mark} {escape(str(root / path))}")
    if env is not None:
        if env.generated:
            out.print(f"[green]generated[/] {len(env.generated)} secret{'s' if len(env.generated) != 1 else ''} "
                      f"into {escape(str(env.path))} (mode 0600; values not shown)")
        if env.unset_supplied:
            out.print(f"[yellow]set these in {escape(str(env.path))} yourself:[/] {', '.join(env.unset_supplied)}")
    out.print(_notes_table(rendering))


def _render_command(phase: str) -> str:
    if phase == "flows":
        return "aipair flows render"
    return "aipair render" if "," in phase else f"aipair render --phase {phase}"


def check_result(drifts: list[Any], rendering: "Rendering", json_output: bool) -> None:
    if json_output:
        emit_json({"ok": not drifts, "phase": rendering.phase,
                   "drift": [{"path": d.path, "missing": d.missing, "diff": d.diff} for d in drifts]})
    elif not drifts:
        out.print(f"[green]✓[/] {len(rendering.files)} files of phase {rendering.phase} match the catalog")
    else:
        from rich.syntax import Syntax

        for drift in drifts:
            if drift.missing:
                err.print(f"[red]missing[/] {escape(drift.path)}")
            else:
                err.print(Syntax(drift.diff, "diff", theme="ansi_dark", background_color="default"))
        err.print(f"[bold red]✗ {len(drifts)} file(s) differ from what the catalog renders;[/] "
                  f"run `{_render_command(rendering.phase)}` and commit the result")
    if drifts:
        raise typer.Exit(1)


@contextmanager
def progress(json_output: bool) -> Iterator[Any]:
    """A live status line for long work; silent with --json."""
    if json_output:
        yield lambda _message: None
        return
    with err.status("starting") as status:
        def report(message: str) -> None:
            status.update(escape(message))
            err.print(f"[dim]· {escape(message)}[/]")

        yield report


def status_table(project: str, rows: list[Any], json_output: bool, *, exit_on_failure: bool = True) -> None:
    if json_output:
        emit_json({"project": project, "ok": all(r.ok for r in rows) and bool(rows), "services": [r.as_dict() for r in rows]})
    else:
        table = _table(title=f"{project}: {sum(r.ok for r in rows)}/{len(rows)} services ready", title_justify="left")
        for column in ("service", "image", "state", "health", "published ports"):
            table.add_column(column, overflow="fold")
        for row in rows:
            colour = "green" if row.ok else "red"
            state = row.state if row.kind != "job" else f"{row.state} ({row.exit_code})"
            table.add_row(row.service, row.image, f"[{colour}]{state}[/]", f"[{colour}]{row.health}[/]", "\n".join(row.ports))
        out.print(table)
    if exit_on_failure and (not rows or not all(r.ok for r in rows)):
        if not rows and not json_output:
            err.print(f"no containers of project {project} are deployed")
        raise typer.Exit(1)


def deploy_result(result: Any, json_output: bool) -> None:
    if json_output:
        emit_json(result.as_dict())
    else:
        for check in result.checks:
            out.print(f"{'[green]✓' if check.ok else '[red]✗'}[/] {check.name}: {escape(check.detail)}")
        status_table(result.project, result.statuses, False, exit_on_failure=False)
        for service, text in result.logs.items():
            err.print(f"[bold red]{service} did not become ready; its last log lines:[/]")
            err.print(escape(text.rstrip() or "(no output)"))
        if not result.ok and not result.logs and result.compose_output.strip():
            err.print("[bold red]Compose said:[/]")
            err.print(escape("\n".join(result.compose_output.strip().splitlines()[-15:])))
        for item in result.restored:
            out.print(f"[yellow]restored[/] {item['service']}: {item['from']} → {item['to']}")
        verdict = "[green]✓ deployed[/]" if result.ok else f"[bold red]✗ not ready: {', '.join(result.failed)}[/]"
        out.print(f"{verdict} in {result.seconds:.1f} s")
    if not result.ok:
        raise typer.Exit(1)


def bootstrap_result(results: list[Any], dry_run: bool, json_output: bool) -> None:
    if json_output:
        emit_json({"dry_run": dry_run, "steps": [r.as_dict() for r in results]})
        return
    for result in results:
        mark = {"done": "[green]✓ already done", "applied": "[green]✓ applied", "would apply": "[yellow]→ would run"}.get(
            result.state, "[red]✗")
        out.print(f"{mark}[/] {result.name}" + (f": {escape(result.detail)}" if result.detail else ""))


def stack_deploy(catalog: "Catalog", root: Path, stack: str, *, preview: bool, yes: bool, backend: str | None,
                 json_output: bool) -> None:
    """Preview, then (unless --preview) ask and update; --yes skips the question."""
    from .engines import pulumi as engine

    show = _pulumi_printer(json_output)
    planned = engine.preview(catalog, root, stack, backend=backend, on_output=show)
    if preview:
        _stack_report(planned, json_output)
        return
    if not yes and not typer.confirm(f"Apply these changes to stack {stack}?", default=False):
        err.print("nothing changed")
        raise typer.Exit(1)
    _stack_report(engine.up(catalog, root, stack, backend=backend, on_output=show), json_output)


def stack_action(action: str, catalog: "Catalog", root: Path, stack: str, *, backend: str | None,
                 json_output: bool) -> None:
    from .engines import pulumi as engine

    show = _pulumi_printer(json_output)
    if action == "destroy":
        result = engine.destroy(catalog, root, stack, backend=backend, on_output=show)
    else:
        result = engine.outputs(catalog, root, stack, backend=backend)
    _stack_report(result, json_output)


def _pulumi_printer(json_output: bool) -> Any:
    """Pulumi's own progress lines on stderr; nothing with --json."""
    return (lambda _line: None) if json_output else (lambda line: err.print(escape(line.rstrip()), highlight=False))


def _stack_report(result: Any, json_output: bool) -> None:
    if json_output:
        emit_json({"ok": True, **result.as_dict()})
        return
    if result.generated:
        out.print(f"[green]generated[/] {len(result.generated)} secrets into the stack's encrypted config (values not shown)")
    changes = ", ".join(f"{k}: {v}" for k, v in sorted(result.changes.items())) or "no changes"
    out.print(f"[green]✓[/] stack {result.stack} {result.action}: {changes}")
    for key, value in sorted(result.outputs.items()):
        out.print(f"  {key}: {value}")


def upgrade_table(rows: list[Any], json_output: bool) -> None:
    errors = [r for r in rows if r.error]
    due = [r for r in rows if r.due]
    if json_output:
        emit_json({"ok": not errors, "due": len(due), "services": [r.as_dict() for r in rows]})
    else:
        table = _table(title=f"{len(due)} upgrade candidate{'s' if len(due) != 1 else ''}", title_justify="left")
        for column in ("service", "image", "current", "candidate", "newest", "digest / error"):
            table.add_column(column, overflow="fold")
        for row in rows:
            note = f"[red]{escape(row.error)}[/]" if row.error else (row.digest or "")
            table.add_row(row.service, row.image, row.current, f"[green]{row.candidate}[/]" if row.candidate else "-",
                          row.newest or "-", note)
        out.print(table)
    if errors:
        raise typer.Exit(1)
    if due:
        raise typer.Exit(10)


def validation_result(result: Any, json_output: bool) -> None:
    if json_output:
        emit_json(result.as_dict())
    else:
        for row in result.services:
            mark = "[green]✓[/]" if row["ok"] else "[red]✗[/]"
            out.print(f"{mark} {row['service']}: {row['state']} {row['health']} ({escape(row['image'])})")
        for smoke in result.smoke:
            out.print(f"{'[green]✓' if smoke.ok else '[red]✗'}[/] smoke {smoke.name}: {escape(smoke.detail)}")
        if not result.ok:
            for service, text in result.logs.items():
                if service == result.service or not any(r["ok"] for r in result.services if r["service"] == service):
                    err.print(f"[bold]{service}[/] last log lines:")
                    err.print(escape(text.rstrip() or "(no output)"))
        verdict = "[green]✓ passed[/]" if result.ok else f"[bold red]✗ failed at {result.stage}[/]"
        out.print(f"{verdict}: {result.service} {result.version} in {result.seconds:.1f} s "
                  f"({'torn down' if result.torn_down else 'TEAR-DOWN FAILED: remove project ' + result.project})")
    if not result.ok:
        raise typer.Exit(1)


def apply_result(result: Any, json_output: bool) -> None:
    if json_output:
        emit_json({"ok": not result.rolled_back, **result.as_dict()})
    else:
        from rich.syntax import Syntax

        out.print(Syntax(result.catalog_diff, "diff", theme="ansi_dark", background_color="default"))
        for path in result.changed_files:
            out.print(f"[green]re-rendered[/] {escape(path)}")
        if result.rolled_back:
            err.print(f"[bold red]✗ {result.service} did not become healthy:[/] the previous version runs again and "
                      "the catalog was restored")
        else:
            out.print(f"[green]✓[/] {result.service}: {escape(result.previous)} → {escape(result.image)}"
                      + (" (deployed)" if result.deployed else ""))
    if result.rolled_back:
        raise typer.Exit(1)


# --- Kestra flows ---------------------------------------------------------------------------------

def flow_violations(names: list[str], violations: list[Any], json_output: bool) -> None:
    """The server's verdict on each flow; exit 1 when any flow has an error."""
    failed = [v for v in violations if v.errors]
    if json_output:
        emit_json({"ok": not failed, "flows": [{"name": names[v.index] if v.index < len(names) else None,
                                                 **v.as_dict()} for v in violations]})
    else:
        for violation in violations:
            name = violation.flow or (names[violation.index] if violation.index < len(names) else f"#{violation.index}")
            out.print(f"{'[red]✗' if violation.errors else '[green]✓'}[/] {escape(name)}")
            for error in violation.errors:
                out.print(f"    [red]{escape(error)}[/]")
            for warning in violation.warnings + [f"deprecated: {d}" for d in violation.deprecations]:
                out.print(f"    [yellow]{escape(warning)}[/]")
    if failed:
        raise typer.Exit(1)


def register_result(namespace: str, changes: list[Any], json_output: bool, *, dry_run: bool = False) -> None:
    """What register did, or with ``dry_run`` what it would do (create/update/unchanged/delete/keep)."""
    if json_output:
        emit_json({"ok": True, "namespace": namespace, "dry_run": dry_run, "flows": [c.as_dict() for c in changes]})
        return
    colours = {"created": "green", "create": "green", "updated": "yellow", "update": "yellow", "deleted": "red",
               "delete": "red", "kept": "dim", "keep": "dim", "unchanged": "dim"}
    title = f"would register in {namespace} (dry run: nothing changed)" if dry_run else f"flows in {namespace}"
    table = _table(title=title, title_justify="left")
    for column in ("flow", "action", "revision"):
        table.add_column(column)
    for change in changes:
        before = "-" if change.revision_before is None else str(change.revision_before)
        after = "-" if change.revision_after is None else str(change.revision_after)
        label = f"{change.action} (not rendered; --prune deletes)" if change.action in ("kept", "keep") else change.action
        table.add_row(change.flow, f"[{colours[change.action]}]{label}[/]",
                      before if dry_run else (after if before == after else f"{before} → {after}"))
    out.print(table)


@contextmanager
def execution_display(json_output: bool) -> Iterator[Any]:
    """A live table of the execution's task runs (nothing on --json); yields the callback to feed it."""
    if json_output:
        yield lambda _execution: None
        return
    from rich.live import Live

    from .engines.kestra import state_of, task_rows

    colours = {"SUCCESS": "green", "FAILED": "red", "RUNNING": "cyan", "WARNING": "yellow", "KILLED": "red"}

    def table(execution: dict[str, Any]) -> "Table":
        state = state_of(execution)
        view = _table(title=f"{execution.get('namespace')}.{execution.get('flowId')} execution "
                            f"{execution.get('id')}: [{colours.get(state, 'white')}]{state}[/]", title_justify="left")
        view.add_column("task")
        view.add_column("state")
        view.add_column("value", overflow="fold")
        for task, task_state, value in task_rows(execution):
            view.add_row(task, f"[{colours.get(task_state, 'white')}]{task_state}[/]", escape(value))
        return view

    with Live(console=err.console(), transient=False, auto_refresh=False) as live:
        yield lambda execution: live.update(table(execution), refresh=True)


def execution_result(result: Any, json_output: bool) -> None:
    from .engines.kestra import state_of

    execution = result.execution
    state = state_of(execution)
    if json_output:
        emit_json({"ok": result.ok, "id": execution.get("id"), "namespace": execution.get("namespace"),
                   "flow": execution.get("flowId"), "state": state, "outputs": execution.get("outputs") or {},
                   "tasks": [{"task": t.get("taskId"), "state": state_of(t), "value": t.get("value")}
                             for t in execution.get("taskRunList") or []]})
    else:
        for name, value in (execution.get("outputs") or {}).items():
            out.print(f"output [bold]{escape(str(name))}[/]: {escape(str(value))}")
        for line in result.problems:
            err.print(f"[red]{escape(str(line.get('taskId') or ''))}[/] {escape(str(line.get('message')))}")
        out.print(f"{'[green]✓' if result.ok else '[bold red]✗'}[/] execution {execution.get('id')} ended {state}")
    if not result.ok:
        raise typer.Exit(1)


def flow_status(namespace: str, version: str, rows: list[Any], json_output: bool) -> None:
    stale = [r for r in rows if not r.in_sync]
    if json_output:
        emit_json({"ok": not stale, "namespace": namespace, "server_version": version,
                   "flows": [r.as_dict() for r in rows]})
    else:
        table = _table(title=f"{namespace} on Kestra {version}", title_justify="left")
        for column in ("flow", "revision", "catalog", "last execution", "started"):
            table.add_column(column)
        for row in rows:
            sync = "[green]in sync[/]" if row.in_sync else (
                "[red]missing[/]" if row.revision is None else "[yellow]differs[/]")
            table.add_row(row.flow, "-" if row.revision is None else str(row.revision), sync,
                          row.last_state or "-", row.last_start or "-")
        out.print(table)
        if stale:
            err.print("run `aipair flows register` to bring the server in line with the catalog")
    if stale:
        raise typer.Exit(1)
