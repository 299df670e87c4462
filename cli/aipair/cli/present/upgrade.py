"""Upgrade candidates, validation reports and catalog changes."""

from __future__ import annotations

from ...ops.upgrade.apply import ApplyResult, MemberChange
from ...ops.upgrade.report import CheckReport
from ...ops.upgrade.validate import ValidationReport
from ..output import err, escape, out, syntax, table


def show_check(report: CheckReport) -> None:
    view = table(
        f"{report.due} upgrade candidate{'s' if report.due != 1 else ''}",
        ["service", "image", "current", "candidate", "newest", "digest / error"],
    )
    for row in report.services:
        # registry text is shown, never read as markup
        note = f"[red]{escape(row.error)}[/]" if row.error else escape(row.digest or "")
        found = row.assumptions
        if found is not None and found.verdict == "broken":
            note += f"\n[red]rejected: {escape(found.reasons())}[/]"
        elif found is not None and found.verdict == "unknown":
            note += f"\n[yellow]image not read: {escape(found.error or '')}[/]"
        candidate = escape(row.candidate or "-")
        view.add_row(
            escape(row.service),
            escape(row.image),
            escape(row.current),
            f"[red]{candidate}[/]" if row.rejected else (f"[green]{candidate}[/]" if row.candidate else "-"),
            escape(row.newest or "-"),
            note,
        )
    out.print(view)


def show_validation(result: ValidationReport) -> None:
    found = result.assumptions
    if found is not None:
        # in a group, the assumptions shown are those of the first member that broke one (else the service's)
        owner = result.failed[0] if result.stage == "image" and result.failed else result.service
        image = f"image of {escape(owner)}" if result.group is not None else "image"
        for check in found.broken:
            out.print(f"[red]✗[/] {image} {check.check}: {escape(check.reason)}")
        if found.verdict == "kept":
            out.print(f"[green]✓[/] {image}: keeps the catalog's assumptions ({escape(found.digest or '')})")
        elif found.verdict == "unknown":
            out.print(f"[yellow]?[/] {image} not read: {escape(found.error or '')}")
    if result.data is not None:  # --with-data: what was copied from the live project, and its stop
        from .images import size

        for copy in result.data.volumes:
            what = f"{size(copy.bytes)} copied in {copy.seconds:.1f} s" if copy.copied else "not live: started empty"
            out.print(f"[green]✓[/] data {escape(copy.volume)}: {what}")
        if result.data.stopped:
            stopped = escape(", ".join(result.data.stopped))
            out.print(f"  live {stopped} stopped {result.data.stopped_seconds:.1f} s for the copy, then started")
    for row in result.services:
        mark = "[green]✓[/]" if row.ok else "[red]✗[/]"
        out.print(f"{mark} {escape(row.service)}: {escape(row.state)} {escape(row.health)} ({escape(row.image)})")
    for flow in result.flows:  # a Kestra candidate: its own verdict on the flows rendered for it
        out.print(f"{'[green]✓' if flow.ok else '[red]✗'}[/] flow {escape(flow.name)}: {escape(flow.detail)}")
    for smoke in result.smoke:
        out.print(f"{'[green]✓' if smoke.ok else '[red]✗'}[/] smoke {smoke.name}: {escape(smoke.detail)}")
    if not result.ok:
        healthy = {row.service for row in result.services if row.ok}
        for service, text in result.logs.items():
            if service == result.service or service in result.failed or service not in healthy:
                err.print(f"[bold]{service}[/] last log lines:")
                err.print(escape(text.rstrip() or "(no output)"))
    verdict = "[green]✓ passed[/]" if result.ok else f"[bold red]✗ failed at {result.stage}[/]"
    if result.failed:
        verdict += f" [red]({escape(', '.join(result.failed))} failed)[/]"
    what = escape(result.service)
    if result.group is not None:
        what = f"group {escape(result.group)} ({escape(', '.join(result.members))})"
    out.print(
        f"{verdict}: {what} {escape(result.version)} in {result.seconds:.1f} s "
        f"({'torn down' if result.torn_down else 'TEAR-DOWN FAILED: remove project ' + result.project})"
    )


def show_apply(result: ApplyResult) -> None:
    out.print(syntax(result.catalog_diff, "diff"))
    for path in result.changed_files:
        out.print(f"[green]re-rendered[/] {escape(path)}")
    changes = result.members or [MemberChange(service=result.service, previous=result.previous, image=result.image)]
    who = escape(result.service) if result.group is None else f"group {escape(result.group)}"
    if result.rolled_back:
        err.print(
            f"[bold red]✗ {who} did not become healthy:[/] the previous version runs again and the catalog was restored"
        )
    else:
        for change in changes:
            out.print(
                f"[green]✓[/] {escape(change.service)}: {escape(change.previous)} → {escape(change.image)}"
                + (" (deployed)" if result.deployed else "")
            )
