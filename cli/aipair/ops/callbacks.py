"""How a use case talks to whoever called it, without knowing whether that is a terminal or CI."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str], None]  # one line about what is happening now
Confirm = Callable[[str], bool]  # a yes/no question; False means: change nothing


def no_progress(_message: str) -> None:
    """The quiet default (`--json` runs, tests)."""


def refuse(_question: str) -> bool:
    """The safe default: a use case that must ask is told no."""
    return False
