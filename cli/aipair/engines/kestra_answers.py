"""What a Kestra server answers, typed: validation verdicts, flows, executions, task runs and log lines.

The REST client (engines/kestra.py) reads the JSON; these types and parsers are what the rest of aipair
sees. Shapes as Kestra writes them (core@v1.0.20 and v2.0.0); another shape is an internal error
(cli/guard.py), as for every answer aipair does not expect.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, JsonValue

from ..results import Result

TERMINAL_STATES = frozenset({"SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "SKIPPED", "RETRIED"})
SUCCESSFUL_STATES = frozenset({"SUCCESS", "WARNING", "SKIPPED"})


class Violation(Result):
    """One flow's validation result from the server (Kestra's ValidateConstraintViolation).

    ``constraints`` is Kestra's own message, verbatim; None when the flow is valid. ``warnings``,
    ``deprecations`` (Kestra's ``deprecationPaths``), ``infos`` and ``outdated`` do not refuse a flow."""

    index: int
    flow: str | None
    constraints: str | None = None
    outdated: bool = False
    warnings: list[str] = Field(default_factory=list)
    deprecations: list[str] = Field(default_factory=list)
    infos: list[str] = Field(default_factory=list)

    @property
    def rejected(self) -> bool:
        return bool(self.constraints)


class FlowInfo(Result):
    """A flow as the server holds it (``source`` only when asked for).

    ``labels``: the API writes a flow's labels as a list of ``{key, value}`` (Flow.labels is a
    List<Label>, serialized by ListOrMapOfLabelSerializer, core@v1.0.20)."""

    id: str
    revision: int | None = None
    source: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class TaskRun(Result):
    task: str
    state: str
    value: JsonValue = None  # the iteration value of a ForEach child


class Execution(Result):
    """One execution, read from the API: what `flows run` follows and `flows status` shows."""

    id: str
    namespace: str | None
    flow: str | None
    state: str
    outputs: dict[str, JsonValue] = Field(default_factory=dict)
    tasks: list[TaskRun] = Field(default_factory=list)
    started: str | None = Field(default=None, exclude=True)

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> Execution:
        return cls(
            id=str(body.get("id")),
            namespace=body.get("namespace"),
            flow=body.get("flowId"),
            state=state_of(body),
            outputs=body.get("outputs") or {},
            tasks=[
                TaskRun(task=str(run.get("taskId")), state=state_of(run), value=run.get("value"))
                for run in body.get("taskRunList") or []
            ],
            started=(body.get("state") or {}).get("startDate"),
        )

    @property
    def ok(self) -> bool:
        return self.state in SUCCESSFUL_STATES


class LogLine(Result):
    task: str | None
    level: str
    message: str


def state_of(item: dict[str, Any]) -> str:
    return str((item.get("state") or {}).get("current") or "UNKNOWN")


def violation(entry: dict[str, Any]) -> Violation:
    """One ValidateConstraintViolation; its identity as Kestra's getIdentity() builds it (namespace.flow).
    Another shape is an internal error (cli/guard.py), as for every answer aipair does not expect."""

    def strings(key: str) -> list[str]:
        value = entry.get(key)
        return [str(item) for item in value] if isinstance(value, list) else []

    namespace, flow = entry.get("namespace"), entry.get("flow")
    constraints = entry.get("constraints")
    index = entry.get("index")
    return Violation(
        index=index if isinstance(index, int) else 0,
        flow=f"{namespace}.{flow}" if namespace and flow else (str(flow) if flow else None),
        constraints=str(constraints) if constraints else None,
        outdated=entry.get("outdated") is True,
        warnings=strings("warnings"),
        deprecations=strings("deprecationPaths"),
        infos=strings("infos"),
    )


def flow_info(body: dict[str, Any]) -> FlowInfo:
    source = body.get("source")
    labels = body.get("labels")
    pairs = [label for label in labels if isinstance(label, dict)] if isinstance(labels, list) else []
    revision = body.get("revision")
    return FlowInfo(
        id=str(body.get("id")),
        revision=revision if isinstance(revision, int) else None,
        source=None if source is None else str(source),
        labels={str(label.get("key")): str(label.get("value")) for label in pairs},
    )
