"""Presentation shared by several command groups."""

from __future__ import annotations

import sys
from pathlib import Path

from ...render.report import Note
from ..output import err, escape, table
from ..sanitize import terminal_safe


def show_document(text: str, written_to: Path | None) -> None:
    """A generated document: on stdout, or a line saying where it was written."""
    if written_to is None:
        sys.stdout.write(terminal_safe(text) if sys.stdout.isatty() else text)  # piped: byte for byte
    else:
        err.print(f"[green]✓[/] wrote {escape(str(written_to))}")


def notes_table(phase: str, notes: list[Note]) -> object:
    view = table(
        f"Translation report (phase {phase}): what the target cannot express as written",
        ["topic", "service", "what happens"],
    )
    for note in notes:
        view.add_row(escape(note.topic), escape(note.service or "(all)"), escape(note.message))
    return view
