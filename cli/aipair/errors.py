"""Exceptions whose messages tell the user what to change.

The CLI maps each class to an exit code; nothing here prints or exits.
"""

from __future__ import annotations

from dataclasses import dataclass


class AipairError(Exception):
    """A failure the user can act on. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


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

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "field": self.field, "message": self.message}


class CatalogError(AipairError):
    """The catalog cannot be used as written. Exit code 2: bad input, nothing was written."""

    exit_code = 2

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        count = len(problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the catalog"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in problems))
