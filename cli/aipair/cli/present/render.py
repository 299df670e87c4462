"""Rendered files, `--check` drift and the translation report."""

from __future__ import annotations

from ...ops.render import CheckResult, RenderResult
from ..output import err, escape, out, syntax
from .common import notes_table


def _render_command(phase: str) -> str:
    if phase == "flows":
        return "aipair flows render"
    return "aipair render" if "," in phase else f"aipair render --phase {phase}"


def show_rendering(result: RenderResult | CheckResult) -> None:
    if isinstance(result, CheckResult):
        show_check(result)
        return
    for state in result.files:
        mark = "[green]wrote[/]" if state.changed else "[dim]unchanged[/]"
        out.print(f"{mark} {escape(str(result.root / state.path))}")
    env = result.env
    if env is not None:
        if env.generated:
            out.print(
                f"[green]generated[/] {len(env.generated)} secret{'s' if len(env.generated) != 1 else ''} "
                f"into {escape(env.path)} (mode 0600; values not shown)"
            )
        if env.unset_supplied:
            out.print(f"[yellow]set these in {escape(env.path)} yourself:[/] {escape(', '.join(env.unset_supplied))}")
    out.print(notes_table(result.phase, result.notes))


def show_check(result: CheckResult) -> None:
    if result.ok:
        out.print(f"[green]✓[/] {result.files} files of phase {result.phase} match the catalog")
    else:
        for drift in result.drift:
            if drift.missing:
                err.print(f"[red]missing[/] {escape(drift.path)}")
            else:
                err.print(syntax(drift.diff, "diff"))
        err.print(
            f"[bold red]✗ {len(result.drift)} file(s) differ from what the catalog renders;[/] "
            f"run `{_render_command(result.phase)}` and commit the result"
        )
