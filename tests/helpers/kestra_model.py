"""What ContractKestra knows of Kestra's flow model: task types, their properties, deprecated aliases,
and the validation it answers with. Part of the ContractKestra TEST DOUBLE (see kestra_contract.py)."""

from __future__ import annotations

import re
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
# Pre-0.17 aliases Kestra still resolves, with a deprecation warning.
ALIASES = {
    "io.kestra.core.tasks.flows.EachParallel": "io.kestra.plugin.core.flow.ForEach",
    "io.kestra.core.tasks.flows.EachSequential": "io.kestra.plugin.core.flow.ForEach",
    "io.kestra.core.tasks.flows.Flow": "io.kestra.plugin.core.flow.Subflow",
    "io.kestra.core.tasks.flows.Sequential": "io.kestra.plugin.core.flow.Parallel",
    "io.kestra.core.tasks.debugs.Return": "io.kestra.plugin.core.debug.Return",
    "io.kestra.core.tasks.log.Log": "io.kestra.plugin.core.log.Log",
}
# The deprecated classes keep their own properties (EachParallel's `value`, not ForEach's `values`).
TASK_PROPERTIES.update(
    {
        "io.kestra.core.tasks.flows.EachParallel": {"value", "tasks", "concurrent", "errors"},
        "io.kestra.core.tasks.flows.EachSequential": {"value", "tasks", "errors"},
        "io.kestra.core.tasks.flows.Flow": TASK_PROPERTIES["io.kestra.plugin.core.flow.Subflow"],
        "io.kestra.core.tasks.flows.Sequential": {"tasks", "errors"},
        "io.kestra.core.tasks.debugs.Return": {"format"},
        "io.kestra.core.tasks.log.Log": {"message", "level"},
    }
)
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
    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors))


def check_flow(
    source: str, missing: frozenset[str] = frozenset()
) -> tuple[dict[str, Any] | None, list[str], list[str]]:
    """(flow, errors, deprecated paths) of one source, as the documented validation sees it.

    ``missing``: task types whose plugin this server lacks (they are invalid types, as in Kestra)."""
    try:
        flow = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        return None, [f"Illegal flow source: {exc}"], []
    if not isinstance(flow, dict):
        return None, ["Illegal flow source: not a YAML mapping"], []
    errors: list[str] = []
    deprecated: list[str] = []
    for key in ("id", "namespace"):
        if not isinstance(flow.get(key), str) or not NAME_RE.match(flow[key]):
            errors.append(f'{key}: must match "{NAME_RE.pattern}"')
    for key in sorted(set(flow) - FLOW_KEYS):
        errors.append(f'{key}: Unrecognized field "{key}"')
    if not flow.get("tasks"):
        errors.append("tasks: must not be empty")
    seen: set[str] = set()

    def walk(tasks: Any, path: str, known: dict[str, set[str]]) -> None:
        if not isinstance(tasks, list):
            errors.append(f"{path}: must be a list")
            return
        for index, task in enumerate(tasks):
            where = f"{path}[{index}]"
            if not isinstance(task, dict):
                errors.append(f"{where}: must be a mapping")
                continue
            task_id, kind = task.get("id"), task.get("type")
            where = f"{path}[{task_id}]" if task_id else where
            if not isinstance(task_id, str) or not re.match(r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$", task_id):
                errors.append(f'{where}.id: must match "^[a-zA-Z0-9][a-zA-Z0-9_-]*"')
            elif task_id in seen:
                errors.append(f"{where}.id: Duplicate task id with name [{task_id}]")
            seen.add(str(task_id))
            if kind in ALIASES:
                deprecated.append(f"{where}.type")
            if kind not in known or kind in missing:
                errors.append(f"{where}.type: Invalid type: {kind}")
                continue
            for key in sorted(set(task) - COMMON - known[kind]):
                errors.append(f'{where}.{key}: Unrecognized field "{key}"')
            runner = task.get("taskRunner")
            if runner is not None and (not isinstance(runner, dict) or runner.get("type") not in RUNNERS):
                errors.append(f"{where}.taskRunner.type: Invalid type: {runner}")
            for child in CHILD_LISTS:
                if child in task and known is TASK_PROPERTIES:
                    walk(task[child], f"{where}.{child}", TASK_PROPERTIES)

    walk(flow.get("tasks") or [], "tasks", TASK_PROPERTIES)
    walk(flow.get("errors") or [], "errors", TASK_PROPERTIES)
    walk(flow.get("triggers") or [], "triggers", TRIGGER_PROPERTIES)
    return flow, errors, deprecated


def seconds(duration: str | None) -> float | None:
    match = re.fullmatch(r"PT(\d+)S", duration or "")
    return float(match.group(1)) if match else None
