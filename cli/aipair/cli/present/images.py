"""`aipair images inspect` and `aipair catalog verify --images` on a terminal (their JSON is the result)."""

from __future__ import annotations

from ...ops.images import ImageInspection, VerifyReport
from ..output import escape, out, table

_MARK = {
    "pass": "[green]✓ pass[/]",
    "warn": "[yellow]! warn[/]",
    "fail": "[bold red]✗ fail[/]",
    "skip": "[dim]- skip[/]",
    "error": "[bold red]✗ error[/]",
}


def size(count: int) -> str:
    """Bytes for people: 1023 B, 4.2 MB (decimal units, as registries and `docker images` show them)."""
    value = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"  # pragma: no cover - the loop returns at GB


def show_inspection(inspection: ImageInspection) -> None:
    facts = inspection.facts
    title = f"{inspection.image}" + (f" (service {inspection.service})" if inspection.service else "")
    view = table(escape(title), ["fact", "value"])
    digest = facts.digest + (f"\n(index {facts.index_digest})" if facts.index_digest else "")
    health = "none"
    if facts.healthcheck is not None:
        health = " ".join(facts.healthcheck.test)
        if facts.healthcheck.interval_seconds is not None:
            health += f"\nevery {facts.healthcheck.interval_seconds:g}s"
    rows = [
        ("platforms", ", ".join(facts.platforms) + ("" if facts.has_platform else "  (no linux/amd64)")),
        ("digest", digest),
        ("user", facts.user or "root (no user set)"),
        ("entrypoint", " ".join(facts.entrypoint) or "-"),
        ("cmd", " ".join(facts.cmd) or "-"),
        ("working dir", facts.working_dir or "/"),
        ("exposed ports", ", ".join(facts.exposed_ports) or "none"),
        ("volumes", ", ".join(facts.volumes) or "none"),
        ("healthcheck", health),
        ("env keys", ", ".join(facts.env_keys) or "none"),
        ("size", f"{size(facts.size)} in {facts.layers} layer{'s' if facts.layers != 1 else ''}"),
    ]
    for fact, value in rows:
        view.add_row(fact, escape(value))
    out.print(view)
    programs = table("programs on the image's PATH", ["program", "where"])
    for lookup in facts.programs:
        name = lookup.name + ("  (the health check's)" if lookup.name == inspection.probe_program else "")
        if lookup.path is None:
            where = "[dim]not found[/]"
        elif lookup.target and lookup.target != lookup.path:
            where = f"{escape(lookup.path)} → {escape(lookup.target)}"
        else:
            where = escape(lookup.path)
        programs.add_row(escape(name), where)
    out.print(programs)
    if facts.paths:
        paths = table("paths", ["path", "kind", "owner", "mode"])
        for info in facts.paths:
            if info.exists:
                paths.add_row(escape(info.path), escape(info.kind), f"{info.uid}:{info.gid}", f"{info.mode:04o}")
            else:
                paths.add_row(escape(info.path), "[dim]missing[/]", "", "")
        out.print(paths)


def show_verify(report: VerifyReport) -> None:
    view = table("Images against the catalog's assumptions", ["service", "check", "verdict", "reason"])
    for row in report.services:
        head = f"{escape(row.service)}\n[dim]{escape(row.image)}[/]"
        if row.error is not None:
            view.add_row(head, "inspect", _MARK["error"], escape(row.error), end_section=True)
            continue
        if row.skipped is not None:
            view.add_row(head, "-", _MARK["skip"], escape(row.skipped), end_section=True)
            continue
        for index, check in enumerate(row.checks):
            view.add_row(
                head if index == 0 else "",
                check.check,
                _MARK[check.verdict],
                escape(check.reason),
                end_section=index == len(row.checks) - 1,
            )
    out.print(view)
    counts = {verdict: sum(row.verdict == verdict for row in report.services) for verdict in _MARK}
    summary = ", ".join(f"{count} {verdict}" for verdict, count in counts.items() if count)
    if report.all_unreachable:
        out.print(f"[bold red]✗[/] no image could be inspected ({summary}): check the registry and `docker login`")
    elif report.ok:
        out.print(f"[green]✓[/] every image keeps the catalog's assumptions ({summary})")
    else:
        out.print(f"[bold red]✗[/] some images break the catalog's assumptions ({summary})")
