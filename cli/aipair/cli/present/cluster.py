"""`aipair status --phase scale`: the workloads, the pods not ready and why, the HPAs, the recent warnings."""

from __future__ import annotations

from ...ops.cluster import ClusterStatus
from ..output import err, escape, out, table
from .deploy import show_stack


def age(seconds: int | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def show_cluster(status: ClusterStatus) -> None:
    if status.stack is not None:
        show_stack(status.stack)
    ready = sum(r.ok for r in status.workloads)
    view = table(
        f"namespace {escape(status.namespace)} on {escape(status.server)} (context {escape(status.context)}): "
        f"{ready}/{len(status.workloads)} workloads ready",
        ["kind", "name", "desired", "updated", "ready", "available", "state"],
    )
    for row in status.workloads:
        colour = "green" if row.ok else "red"
        name = escape(row.name) + ("" if row.in_catalog else " [dim](not in the catalog)[/]")
        if row.kind == "Job":
            counts = [
                str(row.completions),
                "-",
                f"{row.succeeded} succeeded",
                f"{row.active} active, {row.failed} failed",
            ]
        elif row.present:
            counts = [str(row.desired), str(row.updated), str(row.ready), str(row.available)]
        else:
            counts = ["-", "-", "-", "-"]
        view.add_row(escape(row.kind), name, *counts, f"[{colour}]{'✓' if row.ok else '✗'} {escape(row.detail)}[/]")
    out.print(view)
    if status.pods_not_ready:
        pods = table(
            f"{len({p.pod for p in status.pods_not_ready})} pods not ready",
            ["pod", "workload", "phase", "container", "reason", "message", "restarts"],
        )
        for p in status.pods_not_ready:
            pods.add_row(
                escape(p.pod), escape(p.workload), escape(p.phase), escape(p.container),
                f"[red]{escape(p.reason)}[/]", escape(p.message), str(p.restarts),
            )  # fmt: skip
        out.print(pods)
    if status.autoscalers:
        hpas = table(
            "autoscalers", ["name", "target", "min", "max", "current", "desired", "metrics (current / target)", "note"]
        )
        for a in status.autoscalers:
            metrics = "\n".join(f"{m.name}: {m.current} / {m.target}" for m in a.metrics)
            hpas.add_row(
                escape(a.name), escape(a.target), str(a.min_replicas), str(a.max_replicas), str(a.current_replicas),
                str(a.desired_replicas), escape(metrics), f"[yellow]{escape(a.note)}[/]" if a.note else "",
            )  # fmt: skip
        out.print(hpas)
    if status.warnings:
        shown = len(status.warnings)
        events = table(
            f"recent warning events, newest first ({shown} of {status.warnings_total} in the last hour)",
            ["age", "object", "reason", "count", "message"],
        )
        for e in status.warnings:
            events.add_row(age(e.age_seconds), escape(e.object), f"[yellow]{escape(e.reason)}[/]", str(e.count),
                           escape(e.message))  # fmt: skip
        out.print(events)
    if status.ok:
        out.print(f"[green]✓ every workload in {escape(status.namespace)} is ready[/]")
    else:
        failing = [f"{r.kind}/{r.name}" for r in status.workloads if not r.ok]
        err.print(f"[bold red]✗ not ready: {escape(', '.join(failing))}[/]")
