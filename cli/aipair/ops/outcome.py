"""A named check that passed or failed, and what it found: preflight checks, smoke tests."""

from __future__ import annotations

from ..results import Result


class Outcome(Result):
    name: str
    ok: bool
    detail: str

    @classmethod
    def of(cls, name: str, ok: bool, detail: str) -> Outcome:
        return cls(name=name, ok=ok, detail=detail)
