"""Host preparation and the mock image."""

from __future__ import annotations

from ...ops.host import BootstrapResult
from ...ops.operate import MockImage
from ..output import escape, out

MARKS = {"done": "[green]✓ already done", "applied": "[green]✓ applied", "would apply": "[yellow]→ would run"}


def show_bootstrap(result: BootstrapResult) -> None:
    for step in result.steps:
        mark = MARKS.get(step.state, "[red]✗")
        out.print(f"{mark}[/] {step.name}" + (f": {escape(step.detail)}" if step.detail else ""))


def show_mock_image(result: MockImage) -> None:
    out.print(f"[green]✓[/] {result.image} {'made' if result.built else 'already present'}")
