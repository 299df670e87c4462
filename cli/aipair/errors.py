"""Exceptions whose messages tell the user what to change.

Three kinds, and the CLI's exit code follows the kind (aipair.cli.exits): a failure (1), bad
input or usage (2), and something needed that is not there (3: no engine, no server, no tool).
Nothing here prints or exits.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass


class AipairError(Exception):
    """A failure the user can act on."""


class UsageError(AipairError):
    """Bad input or usage: a wrong name, a missing option. Nothing was changed."""


class Unavailable(AipairError):
    """Something aipair needs is not there or refuses us: an engine, a server, a tool, credentials."""


class Declined(AipairError):
    """Asked before changing or deleting something, the user said no: nothing was changed."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a catalog, located as precisely as we can."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class CatalogError(UsageError):
    """The catalog cannot be used as written: nothing was written."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        count = len(problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the catalog"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in problems))


class UnknownService(UsageError):
    """A service name the catalog does not have; the message suggests the closest one."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"no service {name!r} in the catalog{suggest(name, known)}")


def suggest(name: str, known: list[str]) -> str:
    """The closest known name ("; did you mean …?"), else a few known names: appended to a message."""
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    shown = ", ".join(known[:12]) + (", …" if len(known) > 12 else "")
    return f"; known: {shown}" if known else ""
