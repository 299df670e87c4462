"""What `upgrade check` found, as a light module: the CLI's exit-code rule reads it without importing
the registry client (httpx and its dependencies cost ~60 ms of start-up)."""

from __future__ import annotations

from ...results import Result


class CheckRow(Result):
    service: str
    image: str
    current: str
    candidate: str | None = None
    newest: str | None = None
    digest: str | None = None
    error: str | None = None

    @property
    def due(self) -> bool:
        """A candidate the policy allows, read without error: what `upgrade check` exits 10 for."""
        return bool(self.candidate) and not self.error


class CheckReport(Result):
    """What `upgrade check` exits on: 1 when a registry could not be read, else 10 when something is due."""

    ok: bool
    due: int
    services: list[CheckRow]
