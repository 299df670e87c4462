"""What a candidate breaks: a check the current image passes and the candidate fails (ops/upgrade/assumptions.py)."""

from __future__ import annotations

from aipair.ops.images import Check, InspectFailure
from aipair.ops.upgrade.assumptions import judge


def _checks(**verdicts: str) -> list[Check]:
    return [Check(check=name, verdict=verdict, reason=f"{name} {verdict}") for name, verdict in verdicts.items()]  # type: ignore[arg-type]


def test_only_what_the_candidate_newly_fails_is_broken() -> None:
    current = _checks(probe="pass", ports="fail", user="pass")
    candidate = _checks(probe="fail", ports="fail", user="pass")
    found = judge(current, candidate, "sha256:" + "a" * 64)
    assert found.verdict == "broken" and [c.check for c in found.broken] == ["probe"]
    assert found.reasons() == "probe: probe fail" and found.digest == "sha256:" + "a" * 64


def test_an_old_problem_is_not_the_candidates() -> None:
    assert judge(_checks(ports="fail"), _checks(ports="fail")).verdict == "kept"


def test_a_warning_before_and_a_failure_after_is_broken() -> None:
    assert judge(_checks(volumes="warn"), _checks(volumes="fail")).verdict == "broken"


def test_without_the_current_image_every_failure_counts() -> None:
    found = judge(None, _checks(platform="fail", probe="pass"))
    assert [c.check for c in found.broken] == ["platform"]


def test_a_candidate_that_cannot_be_read_is_unknown_not_blocked() -> None:
    found = judge(_checks(probe="pass"), InspectFailure(image="r/web:2", error="HTTP 500"))
    assert (found.verdict, found.error, found.broken) == ("unknown", "HTTP 500", [])
