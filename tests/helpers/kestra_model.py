"""What ContractKestra knows of Kestra's flow model: task types, their properties, deprecated aliases,
and the validation it answers with. Part of the ContractKestra TEST DOUBLE (see kestra_contract.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml

COMMON = {"id", "type", "description", "retry", "timeout", "disabled", "allowFailure", "logLevel", "workerGroup"}
TASK_PROPERTIES: dict[str, set[str]] = {
    "io.kestra.plugin.scripts.shell.Commands": {
        "commands",
        "taskRunner",
        "containerImage",
        "env",
        "outputFiles",
        "inputFiles",
        "beforeCommands",
        "interpreter",
        "failFast",
        "namespaceFiles",
        "warningOnStdErr",
    },
    "io.kestra.plugin.scripts.shell.Script": {
        "script",
        "taskRunner",
        "containerImage",
        "env",
        "outputFiles",
        "inputFiles",
        "beforeCommands",
        "interpreter",
    },
    "io.kestra.plugin.scripts.python.Commands": {
        "commands",
        "taskRunner",
        "containerImage",
        "env",
        "outputFiles",
        "inputFiles",
        "beforeCommands",
        "namespaceFiles",
        "dependencies",
    },
    "io.kestra.plugin.core.flow.If": {"condition", "then", "else", "errors"},
    "io.kestra.plugin.core.flow.ForEach": {"values", "tasks", "concurrencyLimit", "errors"},
    "io.kestra.plugin.core.flow.Subflow": {
        "namespace",
        "flowId",
        "inputs",
        "wait",
        "transmitFailed",
        "labels",
        "revision",
        "inheritLabels",
    },
    "io.kestra.plugin.core.flow.Parallel": {"tasks", "concurrent", "errors"},
    "io.kestra.plugin.core.flow.AllowFailure": {"tasks", "errors"},
    "io.kestra.plugin.core.execution.Fail": {"errorMessage", "condition"},
    "io.kestra.plugin.core.log.Log": {"message", "level"},
    "io.kestra.plugin.core.debug.Return": {"format"},
    "io.kestra.plugin.core.http.Request": {"uri", "method", "contentType", "body", "headers", "options", "formData"},
    "io.kestra.plugin.core.http.Download": {"uri", "method", "headers", "options"},
}
TRIGGER_PROPERTIES: dict[str, set[str]] = {
    "io.kestra.plugin.core.trigger.Schedule": {"cron", "timezone", "inputs", "backfill", "conditions", "stopAfter"},
    "io.kestra.plugin.core.trigger.Webhook": {"key", "conditions"},
    "io.kestra.plugin.core.trigger.Flow": {"conditions", "inputs", "preconditions"},
}
RUNNERS = {"io.kestra.plugin.core.runner.Process", "io.kestra.plugin.scripts.runner.docker.Docker"}
# Pre-0.17 names, resolved through each class's @Plugin(aliases=...) (core@v1.0.20
# io/kestra/plugin/core/flow/*.java): validation answers each one in `infos` as "<alias> is replaced by
# <class>" (FlowService.relocations), and a class marked @Deprecated adds its path to `deprecationPaths`
# ("tasks[0]", FlowService.deprecationTraversal).
ALIASES = {
    "io.kestra.core.tasks.flows.EachParallel": "io.kestra.plugin.core.flow.EachParallel",
    "io.kestra.core.tasks.flows.EachSequential": "io.kestra.plugin.core.flow.EachSequential",
    "io.kestra.core.tasks.flows.Flow": "io.kestra.plugin.core.flow.Subflow",
    "io.kestra.core.tasks.flows.Subflow": "io.kestra.plugin.core.flow.Subflow",
    "io.kestra.core.tasks.flows.Sequential": "io.kestra.plugin.core.flow.Sequential",
    "io.kestra.core.tasks.flows.If": "io.kestra.plugin.core.flow.If",
    "io.kestra.core.tasks.debugs.Return": "io.kestra.plugin.core.debug.Return",
    "io.kestra.core.tasks.log.Log": "io.kestra.plugin.core.log.Log",
}
DEPRECATED_CLASSES = {"io.kestra.plugin.core.flow.EachParallel", "io.kestra.plugin.core.flow.EachSequential"}
TASK_PROPERTIES.update(
    {
        "io.kestra.plugin.core.flow.EachParallel": {"value", "tasks", "concurrent", "errors"},
        "io.kestra.plugin.core.flow.EachSequential": {"value", "tasks", "errors"},
        "io.kestra.plugin.core.flow.Sequential": {"tasks", "errors"},
    }
)
# Kestra 2.0 removed ForEach, EachParallel, EachSequential, ForEachItem and Template and added Loop
# (core@v2.0.0 io/kestra/plugin/core/flow/: Loop.java; the others are gone): a removed type is then an
# "Invalid type", and with it every alias that pointed to it.
REMOVED_IN_2 = {
    "io.kestra.plugin.core.flow.ForEach",
    "io.kestra.plugin.core.flow.EachParallel",
    "io.kestra.plugin.core.flow.EachSequential",
    "io.kestra.plugin.core.flow.ForEachItem",
    "io.kestra.plugin.core.flow.Template",
}
LOOP = "io.kestra.plugin.core.flow.Loop"
LOOP_PROPERTIES = {"values", "tasks", "concurrencyLimit", "transmitFailed", "outputs", "fetchType", "errors", "finally"}


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("-")[0].split(".") if part.isdigit())


def known_types(version: str) -> dict[str, set[str]]:
    """The task types of a server at ``version`` with their properties."""
    if version_tuple(version) < (2, 0):
        return TASK_PROPERTIES
    known = {kind: props for kind, props in TASK_PROPERTIES.items() if kind not in REMOVED_IN_2}
    return {**known, LOOP: LOOP_PROPERTIES}


CHILD_LISTS = ("tasks", "then", "else", "errors")
FLOW_KEYS = {
    "id",
    "namespace",
    "description",
    "labels",
    "inputs",
    "variables",
    "tasks",
    "errors",
    "finally",
    "triggers",
    "outputs",
    "concurrency",
    "disabled",
    "retry",
    "pluginDefaults",
    "afterExecution",
    "sla",
    "revision",
    "deleted",
    "taskDefaults",
    "listeners",
}
NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$")


def now() -> str:
    return datetime.now(UTC).isoformat()


class FlowInvalid(Exception):
    """A flow or input refused: Kestra answers 422 with the constraint message."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors))


@dataclass
class Verdict:
    """One source as Kestra's validation sees it (FlowService.validate, core@v1.0.20).

    Parsing stops at the first unknown type or field (Jackson; YamlParser.toConstraintViolationException),
    so ``parse_error`` is one message; the model's violations are then all reported together."""

    flow: dict[str, Any] | None
    parse_error: str | None = None
    violations: list[str] = field(default_factory=list)
    deprecated: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)

    @property
    def constraints(self) -> str | None:
        """The one `constraints` string: "Illegal flow source: ..." as YamlParser writes it, else
        "Validation error: " + the ConstraintViolationException's message ("path: message, ...")."""
        if self.parse_error is not None:
            return (
                self.parse_error if self.parse_error.startswith("Illegal") else "Validation error: " + self.parse_error
            )
        if self.violations:
            return "Validation error: " + ", ".join(self.violations)
        return None

    @property
    def errors(self) -> list[str]:
        return [self.constraints] if self.constraints else []


def check_flow(source: str, missing: frozenset[str] = frozenset(), version: str = "1.0.20") -> Verdict:
    """How a server at ``version`` validates one source.

    ``missing``: task types whose plugin this server lacks (they are invalid types, as in Kestra)."""
    try:
        flow = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        return Verdict(None, parse_error=f"Illegal flow source: {exc}")
    if not isinstance(flow, dict):
        return Verdict(None, parse_error="Illegal flow source: not a YAML mapping")
    verdict = Verdict(flow)
    known = known_types(version)
    unknown: list[str] = []  # in document order: Jackson stops at the first one
    for key in ("id", "namespace"):
        if not isinstance(flow.get(key), str) or not NAME_RE.match(flow[key]):
            verdict.violations.append(f'{key}: must match "{NAME_RE.pattern}"')
    if not flow.get("tasks"):
        verdict.violations.append("tasks: must not be empty")
    labels = flow.get("labels") or {}
    pairs = labels.items() if isinstance(labels, dict) else [(lb.get("key"), lb.get("value")) for lb in labels]
    for key, value in pairs:
        # FlowValidator (core@v1.0.20 and v2.0.0): only system.readOnly may be set in a flow's source.
        if str(key).startswith("system.") and key != "system.readOnly":
            verdict.violations.append(
                f": Invalid Flow: System labels can only be set by Kestra itself, offending label: {key}={value}"
            )
        # Label's key pattern, added in core@v2.0.0 (io/kestra/core/models/Label.java).
        if version_tuple(version) >= (2, 0) and not re.match(r"^[a-z][A-Za-z0-9._-]*$", str(key)):
            verdict.violations.append(f"labels.key: Invalid label key {key!r}")
    seen: set[str] = set()

    def walk(tasks: Any, path: str, types: dict[str, set[str]]) -> None:
        if not isinstance(tasks, list):
            verdict.violations.append(f"{path}: must be a list")
            return
        for index, task in enumerate(tasks):
            where = f"{path}[{index}]"
            if not isinstance(task, dict):
                verdict.violations.append(f"{where}: must be a mapping")
                continue
            task_id, kind = task.get("id"), task.get("type")
            if not isinstance(task_id, str) or not re.match(r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$", task_id):
                verdict.violations.append(f'{where}.id: must match "^[a-zA-Z0-9][a-zA-Z0-9_-]*"')
            elif task_id in seen:
                verdict.violations.append(f": Invalid Flow: Duplicate task id with name [{task_id}]")
            seen.add(str(task_id))
            resolved = ALIASES.get(kind, kind) if isinstance(kind, str) else kind
            if resolved not in types or resolved in missing or kind in missing:
                unknown.append(f"Invalid type: {kind}")
                continue
            if kind != resolved:
                verdict.infos.append(f"{kind} is replaced by {resolved}")
            if resolved in DEPRECATED_CLASSES:
                verdict.deprecated.append(where)
            for key in sorted(set(task) - COMMON - types[resolved]):
                unknown.append(f'Unrecognized field "{key}" (class {resolved}), not marked as ignorable')
            runner = task.get("taskRunner")
            if runner is not None and (not isinstance(runner, dict) or runner.get("type") not in RUNNERS):
                unknown.append(f"Invalid type: {runner.get('type') if isinstance(runner, dict) else runner}")
            for child in CHILD_LISTS:
                if child in task and types is not TRIGGER_PROPERTIES:
                    walk(task[child], f"{where}.{child}", types)

    for key in flow:
        if key not in FLOW_KEYS:
            unknown.append(
                f'Unrecognized field "{key}" (class io.kestra.core.models.flows.Flow), not marked as ignorable'
            )
        elif key in ("tasks", "errors", "finally"):
            walk(flow[key] or [], key, known)
        elif key == "triggers":
            walk(flow[key] or [], key, TRIGGER_PROPERTIES)
    if unknown:
        verdict.parse_error = unknown[0]
    return verdict


def duration(text: Any) -> float:
    """An ISO-8601 duration as Kestra writes them (PT30S, PT5M, PT1H30M) in seconds."""
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?", str(text or ""))
    if not match:
        raise ValueError(f"not a duration: {text!r}")
    hours, minutes, secs = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(secs or 0)


def retry_delay(retry: dict[str, Any], failed_attempts: int, version: str) -> float:
    """Seconds Kestra waits before the next attempt after ``failed_attempts`` attempts failed.

    TaskRun.nextRetryDate passes attempts.size(); Exponential.nextRetryDate computes
    interval * 2 * (n - 1) at core@v1.0.20 (so the first retry is immediate) and interval * 2^(n - 1)
    at core@v2.0.0, both capped at maxInterval (delayFactor replaces the 2). Constant: interval."""
    kind = retry.get("type")
    interval = duration(retry.get("interval"))
    if kind == "constant":
        return interval
    if kind != "exponential":
        raise ValueError(f"the contract server does not model {kind} retries")
    factor = float(retry.get("delayFactor") or 2)
    if version_tuple(version) < (2, 0):
        delay = interval * int(factor) * (failed_attempts - 1)
    else:
        delay = interval * factor ** (failed_attempts - 1)
    return min(delay, duration(retry.get("maxInterval")))


def seconds(duration: str | None) -> float | None:
    match = re.fullmatch(r"PT(\d+)S", duration or "")
    return float(match.group(1)) if match else None
