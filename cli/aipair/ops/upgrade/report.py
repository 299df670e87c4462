"""What `upgrade check` found, as a light module: the CLI's exit-code rule reads it without importing
the registry client (httpx and its dependencies cost ~60 ms of start-up)."""

from __future__ import annotations

from ...results import Result
from .assumptions import CandidateAssumptions


class CheckRow(Result):
    service: str
    image: str
    current: str
    candidate: str | None = None
    newest: str | None = None
    digest: str | None = None
    error: str | None = None
    # the candidate's image against the catalog's assumptions (None: not inspected, e.g. --no-inspect)
    assumptions: CandidateAssumptions | None = None

    @property
    def rejected(self) -> bool:
        """The candidate breaks an assumption the current image keeps: nothing of it is run."""
        return self.assumptions is not None and self.assumptions.verdict == "broken"

    @property
    def due(self) -> bool:
        """A candidate the policy allows, read without error and not rejected: what `upgrade check` exits 10 for."""
        return bool(self.candidate) and not self.error and not self.rejected


class CheckReport(Result):
    """What `upgrade check` exits on (cli/exits.py): 1 when a registry could not be read; else 10 when something
    is due (the due ones go on to validation; a rejected one is in the report); else 1 when a candidate is
    rejected (it breaks an assumption of the catalog: someone must look); else 0."""

    ok: bool  # every registry could be read
    due: int
    rejected: int = 0
    services: list[CheckRow]
