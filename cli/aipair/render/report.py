"""The translation report: what the catalog says that a target cannot express, and what we did."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Note:
    """One approximation. ``service`` is None for notes about the whole catalog."""

    phase: str
    topic: str
    service: str | None
    message: str
