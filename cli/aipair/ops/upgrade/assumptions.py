"""Does a candidate keep what the catalog assumes of its service's image? Asked before anything runs.

The current image and the candidate are inspected from the registry (ops/images.py's checks on both): a
check that passes for the current image and fails for the candidate is what the upgrade breaks (the probe
program gone, the user changed, a port no longer exposed, linux/amd64 no longer offered). A check that fails
for both is the catalog's old problem, reported by `aipair catalog verify --images`, not the candidate's.
When the current image cannot be read, every failing check of the candidate counts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ...catalog.model import Catalog
from ..images import Check, ImageRequest, InspectFailure, Inspector, checks_for, request_for
from .versions import candidate_image


class CandidateAssumptions(BaseModel):
    """``verdict``: kept (nothing broken), broken (see ``broken``), or unknown (the candidate could not be read:
    ``error``; the upgrade is not blocked for it, the run itself will tell)."""

    verdict: Literal["kept", "broken", "unknown"]
    broken: list[Check] = Field(default_factory=list)
    error: str | None = None
    digest: str | None = None  # the candidate's platform manifest that was inspected

    def reasons(self) -> str:
        return "; ".join(f"{c.check}: {c.reason}" for c in self.broken)


def requests_for(catalog: Catalog, service: str, version: str) -> tuple[ImageRequest, ImageRequest]:
    """The current image's request and the candidate's (same programs and paths)."""
    current = request_for(service, catalog.service(service))
    candidate = current.model_copy(update={"image": candidate_image(current.image, version)})
    return current, candidate


def judge(
    current: list[Check] | None, candidate: list[Check] | InspectFailure, digest: str | None = None
) -> CandidateAssumptions:
    """Pure: what the candidate breaks, given the current image's checks (None when it could not be read)."""
    if isinstance(candidate, InspectFailure):
        return CandidateAssumptions(verdict="unknown", error=candidate.error)
    passing_now = None if current is None else {c.check for c in current if c.verdict != "fail"}
    broken = [c for c in candidate if c.verdict == "fail" and (passing_now is None or c.check in passing_now)]
    return CandidateAssumptions(verdict="broken" if broken else "kept", broken=broken, digest=digest)


def check_candidates(
    catalog: Catalog, candidates: dict[str, str], inspector: Inspector
) -> dict[str, CandidateAssumptions]:
    """Each service's candidate version against its current image, all images in one inspector call."""
    pairs = {name: requests_for(catalog, name, version) for name, version in candidates.items()}
    answers = inspector([request for pair in pairs.values() for request in pair])
    found: dict[str, CandidateAssumptions] = {}
    for index, (name, _) in enumerate(pairs.items()):
        now, then = answers[2 * index], answers[2 * index + 1]
        service = catalog.service(name)
        current = None if isinstance(now, InspectFailure) else checks_for(service, now)
        if isinstance(then, InspectFailure):
            found[name] = judge(current, then)
        else:
            found[name] = judge(current, checks_for(service, then), then.digest)
    return found
