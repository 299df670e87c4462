"""The soak after a deploy's health gate (issue 16, item 5): durations, which service is watched how long, and the
verdict read from a sequence of engine events. The engine itself is in tests/engine/test_soak.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aipair.catalog.model import Catalog
from aipair.engines.docker import ContainerStatus
from aipair.engines.soak import SoakEvent, SoakReport, _stamp, compare, judge, parse_duration, verdict
from aipair.ops.deploy import DeployResult, soak_plan

from ..helpers.catalogs import minimal, write
from ..helpers.commands import cli

T0 = 1_800_000_000.0  # when the soak began, in the engine's clock


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0.0), ("0s", 0.0), ("30s", 30.0), ("1m30s", 90.0), ("500ms", 0.5), ("2h", 7200.0), (" 45s ", 45.0)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "-5s", "1.5s", "thirty", "30 s", "5d"])
def test_a_bad_duration_says_what_to_write(text: str) -> None:
    with pytest.raises(ValueError, match="write one such as 30s, 1m30s or 500ms, or 0 to skip the soak"):
        parse_duration(text)


def test_since_and_until_keep_nanoseconds() -> None:
    """The engine reads `seconds.nanoseconds`; the SDK would cut a datetime to whole seconds."""
    assert _stamp(1_800_000_000.25) == "1800000000.250000000"
    assert _stamp(5.0) == "5.000000000"


def _status(service: str, kind: str = "stateless") -> ContainerStatus:
    return ContainerStatus(
        service=service, container=f"{service}-id", name=service, image="x:1", state="running", health="healthy",
        exit_code=0, kind=kind,
    )  # fmt: skip


def _catalog(**soaks: str | None) -> Catalog:
    data = minimal()
    for service, soak in soaks.items():
        if service == "defaults":
            data["defaults"] = {"soak": soak}
        else:
            data["services"][service]["soak"] = soak
    return Catalog.model_validate(data)


STATUSES = [_status("cache"), _status("web"), _status("migrate", "job"), _status("postgres-init", "job")]


def test_the_catalog_default_is_30_seconds_and_jobs_are_not_watched() -> None:
    assert soak_plan(_catalog(), STATUSES, None) == {"cache": 30.0, "web": 30.0}


def test_a_service_s_own_soak_wins_over_the_default() -> None:
    plan = soak_plan(_catalog(defaults="10s", web="2m", cache="0s"), STATUSES, None)
    assert plan == {"cache": 0.0, "web": 120.0}


def test_the_soak_option_overrides_the_whole_catalog() -> None:
    assert soak_plan(_catalog(web="2m"), STATUSES, 5.0) == {"cache": 5.0, "web": 5.0}
    assert soak_plan(_catalog(web="2m"), STATUSES, 0.0) == {"cache": 0.0, "web": 0.0}


def test_a_service_not_in_the_catalog_gets_the_default() -> None:
    assert soak_plan(_catalog(defaults="7s"), [_status("sidecar")], None) == {"sidecar": 7.0}


@pytest.mark.parametrize("where", ["defaults", "web"])
def test_a_bad_soak_in_the_catalog_names_the_field(tmp_path: Path, where: str) -> None:
    data = minimal()
    if where == "defaults":
        data["defaults"] = {"soak": "thirty seconds"}
    else:
        data["services"]["web"]["soak"] = "30"
    result = cli("catalog", "validate", "--catalog", str(write(tmp_path, data)))
    assert result.exit_code == 2, result.output
    assert "soak" in result.output and "write a duration such as 10s, 1m30s or 500ms" in result.output


def test_a_bad_soak_option_is_a_usage_error_and_writes_nothing(tmp_path: Path) -> None:
    catalog = write(tmp_path, minimal())
    before = sorted(p.name for p in tmp_path.iterdir())
    result = cli("deploy", "--profile", "mock", "--catalog", str(catalog), "--soak", "30 seconds")
    assert result.exit_code == 2
    assert "--soak: '30 seconds' is not a duration; write one such as 30s" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before


# --- the verdict from engine events, as `GET /events` sends them -------------------------------------


def _event(action: str, service: str, after: float, **attributes: str) -> dict[str, Any]:
    return {
        "Type": "container",
        "Action": action,
        "status": action,
        "id": f"{service}-container-id",
        "Actor": {
            "ID": f"{service}-container-id",
            "Attributes": {"com.docker.compose.project": "demo", "com.docker.compose.service": service, **attributes},
        },
        "time": int(T0 + after),
        "timeNano": round((T0 + after) * 1e9),
    }


WATCH = {"web": 30.0, "cache": 10.0}


def test_a_steady_project_passes() -> None:
    events = [_event("health_status: healthy", "web", 3), _event("exec_start: wget -q -O- /", "web", 4)]
    assert verdict(events, T0, WATCH) == []


def test_a_crash_after_becoming_healthy_fails_naming_the_service_and_the_exit_code() -> None:
    events = [
        _event("health_status: healthy", "web", 1),
        _event("die", "web", 10.5, exitCode="3"),
        _event("start", "web", 11),
    ]
    assert verdict(events, T0, WATCH) == [
        SoakEvent(service="web", container="web-containe", what="exited with code 3", after=10.5)
    ]


def test_a_health_flap_fails() -> None:
    (problem,) = verdict([_event("health_status: unhealthy", "cache", 4)], T0, WATCH)
    assert (problem.service, problem.what) == ("cache", "turned unhealthy after being healthy")


def test_an_oom_kill_is_named_before_the_death_it_causes() -> None:
    events = [_event("oom", "web", 6), _event("die", "web", 6, exitCode="137")]
    assert [p.what for p in verdict(events, T0, WATCH)] == [
        "was killed for lack of memory (OOM)",
        "exited with code 137",
    ]


def test_a_restart_fails() -> None:
    assert [p.what for p in verdict([_event("restart", "web", 2)], T0, WATCH)] == ["was restarted"]


def test_each_service_is_watched_for_its_own_time_only() -> None:
    events = [_event("die", "cache", 12, exitCode="1"), _event("die", "web", 29, exitCode="1")]
    assert [p.service for p in verdict(events, T0, WATCH)] == ["web"]  # cache's 10 s were over


def test_unwatched_services_and_other_objects_do_not_count() -> None:
    events = [
        _event("die", "migrate", 1, exitCode="0"),  # a job: not in the plan
        {**_event("die", "web", 1), "Type": "network"},
        _event("die", "web", 1, exitCode="1") | {"Actor": {"ID": "x", "Attributes": {}}},
    ]
    assert verdict(events, T0, WATCH) == []


def test_an_event_where_two_slices_meet_counts_once() -> None:
    event = _event("die", "web", 5, exitCode="1")
    assert len(verdict([event, dict(event)], T0, WATCH)) == 1


def test_an_event_without_nanoseconds_uses_whole_seconds() -> None:
    event = _event("die", "web", 5, exitCode="1")
    del event["timeNano"]
    assert judge(event, 5.0, WATCH) is not None and verdict([event], T0, WATCH)[0].after == 5.0


# --- the final inspect: the second witness ----------------------------------------------------------


def _state(container: str = "a", restarts: int = 0, oom: bool = False, health: str = "healthy") -> dict[str, Any]:
    return {"id": container, "restarts": restarts, "oom": oom, "health": health, "status": "running"}


@pytest.mark.parametrize(
    ("after", "what"),
    [
        (_state(restarts=2), "restarted 2 time(s)"),
        (_state(container="b"), "its container was replaced"),
        (_state(oom=True), "was killed for lack of memory (OOM)"),
        (_state(health="starting"), "turned starting after being healthy"),
        ({**_state(), "status": "exited"}, "is exited"),
    ],
)
def test_the_final_inspect_sees_what_the_events_might_have_missed(after: dict[str, Any], what: str) -> None:
    (problem,) = compare({"web": _state()}, {"web": after}, {"web": 30.0}, 30.0)
    assert (problem.service, problem.what) == ("web", what)


def test_the_final_inspect_of_a_steady_project_finds_nothing() -> None:
    assert compare({"web": _state()}, {"web": _state()}, {"web": 30.0}, 30.0) == []
    assert compare({"web": _state()}, {}, {"web": 30.0}, 30.0)[0].what == "its container was removed"


def test_the_report_in_json() -> None:
    report = SoakReport(
        seconds=30, watched={"web": 30}, elapsed=10.456,
        problems=[SoakEvent(service="web", container="abc", what="exited with code 3", after=10.456)],
    )  # fmt: skip
    assert report.to_json() == {
        "seconds": 30.0,
        "watched": {"web": 30.0},
        "problems": [{"service": "web", "container": "abc", "what": "exited with code 3", "after": 10.46}],
        "skipped": "",
        "elapsed": 10.46,
        "ok": False,
    }
    assert report.failed == ["web"]
    deployed = DeployResult(ok=True, project="p", profile="mock", checks=[], statuses=[]).to_json()
    assert isinstance(deployed, dict) and deployed["soak"] is None  # the gate failed or was not reached
