"""`aipair catalog …` on a terminal or as JSON."""

from __future__ import annotations

import sys

from ...ops.catalog import CatalogSummary, ServiceDetail, ServiceList, StartOrder
from ..output import escape, out, syntax, table


def show_summary(summary: CatalogSummary) -> None:
    out.print(
        f"[green]✓[/] {escape(summary.catalog)} is valid: {summary.services} services "
        f"({summary.phases['mvp']} in mvp, {summary.phases['scale']} in scale), {summary.secrets} secrets"
    )
    if summary.root_equivalent:
        out.print(
            f"[yellow]![/] root on the host: {escape(', '.join(summary.root_equivalent))} "
            "(they hold the Docker socket; whoever controls one of them controls the host)"
        )


def show_service_list(listing: ServiceList) -> None:
    view = table(
        f"{escape(listing.title)}: {len(listing.rows)} services",
        ["service", "layer", "kind", "image", "phases", "public", "depends on"],
    )
    for row in listing.rows:
        view.add_row(
            *(
                escape(cell)
                for cell in (
                    row.name,
                    row.layer,
                    row.kind,
                    row.image,
                    ",".join(row.phases),
                    "\n".join(row.public),
                    ", ".join(row.depends_on),
                )
            )
        )
    out.print(view)


def show_service_detail(detail: ServiceDetail) -> None:
    from ...render.files import dump_yaml

    out.print(syntax(dump_yaml({detail.name: detail.detail}), "yaml"))


def show_start_order(order: StartOrder, fmt: str = "text") -> None:
    if fmt == "mermaid":
        lines = ["flowchart LR"]
        for name in order.nodes:
            lines += [f"  {name} -->|{edge.condition}| {edge.target}" for edge in order.edges if edge.source == name]
            if name in order.roots:
                lines.append(f"  {name}")
        sys.stdout.write("\n".join(lines) + "\n")
        return
    view = table("Start order (each wave waits for the earlier ones)", ["wave", "services"])
    for index, wave in enumerate(order.waves, start=1):
        view.add_row(str(index), escape(", ".join(wave)))
    out.print(view)
