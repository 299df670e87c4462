"""The soak after a deploy's health gate: watch the project's containers for a while and fail on the first
restart, health flap or OOM kill (issue 16, item 5).

The engine's event stream is read, not polled: `GET /events` filtered by the Compose project's label and
bounded by `since`/`until` in the engine's own clock (a remote host's clock may differ from ours). It is read
in slices of a few seconds so that the caller can show how long is left, with no thread; the slices join
end to start and the engine replays what happened since `since`, so nothing falls between two of them.
Polling `inspect` instead would miss a restart that happens between two polls (a crash loop with a short
back-off looks "running" at every poll), while `die`, `oom` and `health_status` events are never lost. One
inspect at the end still compares restart counts, container ids and the OOM flag, as a second witness.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator
from datetime import datetime
from typing import Any

from pydantic import Field, computed_field

from ..catalog.types import duration_seconds
from ..results import Result, Seconds

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
SLICE = 10.0  # seconds per read of the event stream: how often the status line says how long is left

_SYSTEM_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


def parse_duration(text: str) -> float:
    """Seconds in a Go-style duration (30s, 1m30s, 500ms); a bare `0` is zero. ValueError says what to write."""
    if text.strip() == "0":
        return 0.0
    try:
        return duration_seconds(text)
    except ValueError as exc:
        raise ValueError(f"{exc}; write one such as 30s, 1m30s or 500ms, or 0 to skip the soak") from None


class SoakEvent(Result):
    """What happened to one service during the soak, and how long after it began."""

    service: str
    container: str
    what: str
    after: Seconds


class SoakReport(Result):
    """The soak's verdict: which services were watched for how long, and what went wrong."""

    seconds: Seconds = Field(description="How long the soak was planned to last (the longest service's).")
    watched: dict[str, Seconds] = Field(default_factory=dict)
    problems: list[SoakEvent] = Field(default_factory=list)
    skipped: str = Field(default="", description="Why no soak ran (nothing was created or recreated, or 0 s).")
    elapsed: Seconds = 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def failed(self) -> list[str]:
        return list(dict.fromkeys(problem.service for problem in self.problems))


def judge(event: dict[str, Any], after: float, watch: dict[str, float]) -> SoakEvent | None:
    """The problem one engine event reveals, or None: a watched service's container died, was OOM killed,
    restarted, or its health left `healthy`; events past the service's own soak do not count."""
    if event.get("Type") != "container":
        return None
    actor = event.get("Actor") or {}
    attributes = actor.get("Attributes") or {}
    service = attributes.get(SERVICE_LABEL, "")
    if service not in watch or after > watch[service]:
        return None
    action = str(event.get("Action") or event.get("status") or "")
    if action == "oom":
        what = "was killed for lack of memory (OOM)"
    elif action == "die":
        what = f"exited with code {attributes.get('exitCode', '?')}"
    elif action == "restart":
        what = "was restarted"
    elif action.startswith("health_status"):
        status = action.partition(":")[2].strip() or str(attributes.get("health_status", ""))
        if status in ("healthy", ""):
            return None
        what = f"turned {status} after being healthy"
    else:
        return None
    return SoakEvent(service=service, container=str(actor.get("ID", ""))[:12], what=what, after=after)


def verdict(events: list[dict[str, Any]], started: float, watch: dict[str, float]) -> list[SoakEvent]:
    """Every problem in a sequence of engine events (times in `timeNano` or `time`), in order; each event once."""
    problems: list[SoakEvent] = []
    seen: set[tuple[Any, ...]] = set()
    for event in events:
        key = (event.get("timeNano") or event.get("time"), (event.get("Actor") or {}).get("ID"), event.get("Action"))
        if key in seen:  # the slices meet at one instant: an event exactly there is returned twice
            continue
        seen.add(key)
        problem = judge(event, _event_time(event) - started, watch)
        if problem is not None:
            problems.append(problem)
    return problems


def _event_time(event: dict[str, Any]) -> float:
    if event.get("timeNano"):
        return int(event["timeNano"]) / 1e9
    return float(event.get("time") or 0)


def engine_now(client: Any) -> float:
    """The engine's clock (seconds since the epoch): `since` and `until` are read by the engine, in its time."""
    text = str(client.info().get("SystemTime") or "")
    match = _SYSTEM_TIME.match(text)
    if not match:
        return datetime.now().timestamp()
    whole, fraction, zone = match.groups()
    stamp = datetime.fromisoformat(whole + ("+00:00" if zone == "Z" else zone)).timestamp()
    return stamp + (int(fraction) / 10 ** len(fraction) if fraction else 0.0)


def _stamp(seconds: float) -> str:
    """`seconds.nanoseconds`, the engine's own form for since/until (the SDK would cut a datetime to whole s)."""
    whole = int(seconds)
    nanos = round((seconds - whole) * 1e9)  # apart from the whole seconds: a float holds no 19 digits
    whole, nanos = (whole + 1, 0) if nanos >= 10**9 else (whole, nanos)
    return f"{whole}.{nanos:09d}"


def _events(client: Any, project: str, since: float, until: float) -> Generator[dict[str, Any], None, None]:
    stream = client.events(
        since=_stamp(since),
        until=_stamp(until),
        filters={"type": "container", "label": f"{PROJECT_LABEL}={project}"},
        decode=True,
    )
    try:
        yield from stream
    finally:
        stream.close()


def snapshot(client: Any, project: str) -> dict[str, dict[str, Any]]:
    """Per service: container id, restart count, OOM flag and health, from one inspect each."""
    found: dict[str, dict[str, Any]] = {}
    for container in client.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={project}"}):
        state = container.attrs.get("State") or {}
        found[container.labels.get(SERVICE_LABEL, container.name)] = {
            "id": container.id,
            "restarts": int(container.attrs.get("RestartCount") or 0),
            "oom": bool(state.get("OOMKilled")),
            "health": (state.get("Health") or {}).get("Status", "-"),
            "status": state.get("Status", "unknown"),
        }
    return found


def compare(
    before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]], watch: dict[str, float], elapsed: float
) -> list[SoakEvent]:
    """What the final inspect shows changed since the soak began: the second witness beside the events."""
    problems: list[SoakEvent] = []
    for service in watch:
        old, new = before.get(service), after.get(service)
        if old is None:
            continue
        if new is None:
            what = "its container was removed"
        elif new["id"] != old["id"]:
            what = "its container was replaced"
        elif new["oom"] and not old["oom"]:
            what = "was killed for lack of memory (OOM)"
        elif new["restarts"] > old["restarts"]:
            what = f"restarted {new['restarts'] - old['restarts']} time(s)"
        elif new["status"] != "running":
            what = f"is {new['status']}"
        elif old["health"] == "healthy" and new["health"] != "healthy":
            what = f"turned {new['health']} after being healthy"
        else:
            continue
        problems.append(SoakEvent(service=service, container=old["id"][:12], what=what, after=elapsed))
    return problems


def soak(
    client: Any,
    project: str,
    watch: dict[str, float],
    report: Callable[[str], None],
    *,
    slice_seconds: float = SLICE,
    before: dict[str, Any] | None = None,
) -> SoakReport:
    """Watch ``watch`` (service → seconds) from now; stop at the first problem. The report names each one.
    ``before``: the containers' state just taken (snapshot), when the caller has it."""
    window = max(watch.values(), default=0.0)
    planned = SoakReport(seconds=window, watched={name: seconds for name, seconds in watch.items() if seconds > 0})
    watched = planned.watched
    if window <= 0:
        return planned.model_copy(update={"skipped": "the soak is 0 s"})
    before = before if before is not None else snapshot(client, project)
    started = engine_now(client)
    since = started
    problems: list[SoakEvent] = []
    while not problems and since < started + window:
        left = started + window - since
        report(f"soak: {left:.0f} s left, watching {', '.join(sorted(watched))}")
        until = min(since + slice_seconds, started + window)
        events = _events(client, project, since, until)
        try:
            for event in events:
                problems = verdict([event], started, watched)
                if problems:
                    break
        finally:
            events.close()  # the first problem ends the soak: stop reading at once
        since = until
    elapsed = min(max(engine_now(client) - started, 0.0), window)
    # The second witness, for the services watched the whole time (a shorter soak may have ended before a
    # restart that the final state would show): what the events said nothing about, or the OOM behind a death.
    whole = {name: seconds for name, seconds in watched.items() if seconds >= elapsed}
    found = compare(before, snapshot(client, project), whole, elapsed)
    if not problems:
        problems = found
    elif "OOM" not in problems[0].what:
        problems += [extra for extra in found if extra.service == problems[0].service and "OOM" in extra.what]
    return planned.model_copy(update={"problems": problems, "elapsed": elapsed})
