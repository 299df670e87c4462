"""How a use case talks to whoever called it, without knowing whether that is a terminal or CI."""

from __future__ import annotations

from collections.abc import Callable

from ..catalog.model import Catalog

Progress = Callable[[str], None]  # one line about what is happening now
Confirm = Callable[[str], bool]  # a yes/no question; False means: change nothing
Deployer = Callable[[Catalog], bool]  # rolls an updated catalog out; False when its health gate failed


def no_progress(_message: str) -> None:
    """The quiet default (`--json` runs, tests)."""
