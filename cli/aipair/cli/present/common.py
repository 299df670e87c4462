"""Presentation shared by several command groups."""

from __future__ import annotations

import sys
from pathlib import Path

from ...render.report import Note
from ..output import err, escape, table


def show_document(text: str, written_to: Path | None) -> None:
    """A generated document: on stdout, or a line saying where it was written."""
    if written_to is None:
        sys.stdout.write(text)
    else:
        err.print(f"[green]✓[/] wrote {escape(str(written_to))}")


def notes_table(phase: str, notes: list[Note]) -> object:
    view = table(
        f"Translation report (phase {phase}): what the target cannot express as written",
        ["topic", "service", "what happens"],
    )
    for note in notes:
        view.add_row(note.topic, note.service or "(all)", note.message)
    return view
