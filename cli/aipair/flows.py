"""Register the rendered Kestra flows and report their state: the decisions behind `aipair flows`.

The rendered flows (render/kestra.py) are the truth; the server is brought to them. Nothing is
deleted unless asked (``prune``), and then only the flows listed to the user first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .catalog.model import Catalog
from .engines.kestra import SUCCESSFUL_STATES, KestraClient, KestraError, state_of
from .render.kestra import FLOW_ORDER


@dataclass(frozen=True)
class FlowChange:
    flow: str
    action: str  # created | updated | unchanged | deleted | kept (on the server, no longer rendered)
    revision_before: int | None
    revision_after: int | None

    def as_dict(self) -> dict[str, Any]:
        return {"flow": self.flow, "action": self.action, "revision_before": self.revision_before,
                "revision_after": self.revision_after}


@dataclass(frozen=True)
class FlowStatus:
    flow: str
    revision: int | None
    in_sync: bool
    last_state: str | None
    last_start: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"flow": self.flow, "revision": self.revision, "in_sync": self.in_sync, "last_state": self.last_state,
                "last_start": self.last_start}


class FlowsRejected(KestraError):
    """The server's validation found errors; nothing was registered."""

    def __init__(self, violations: list[Any]) -> None:
        self.violations = violations
        lines = [f"  {v.flow or f'flow #{v.index + 1}'}: {error}" for v in violations for error in v.errors]
        super().__init__("Kestra rejected the flows; nothing was registered:\n" + "\n".join(lines))


def sources_by_id(files: dict[str, str]) -> dict[str, str]:
    """kestra-flows/<id>.yml texts keyed by flow id, in registration order (subflows first)."""
    by_id = {path.rsplit("/", 1)[-1].removesuffix(".yml"): text for path, text in files.items()}
    order = {flow_id: index for index, flow_id in enumerate(FLOW_ORDER)}
    return dict(sorted(by_id.items(), key=lambda item: (order.get(item[0], len(order)), item[0])))


def server_revisions(client: KestraClient, namespace: str) -> dict[str, int | None]:
    """Every flow of the namespace on the server with its revision: one request, read once per command."""
    return {f["id"]: f.get("revision") for f in client.flows(namespace)}


def stale_flows(current: dict[str, int | None], rendered: dict[str, str]) -> list[str]:
    """Flows on the server that the catalog no longer renders (what --prune would delete)."""
    return sorted(set(current) - set(rendered))


def _same_source(flow: dict[str, Any] | None, text: str) -> bool:
    # Kestra trims each source of a bulk body, so compare trimmed.
    return flow is not None and str(flow.get("source", "")).strip() == text.strip()


def plan(client: KestraClient, namespace: str, rendered: dict[str, str], current: dict[str, int | None], *,
         prune: bool) -> list[FlowChange]:
    """What register would do (--dry-run), judged by comparing each rendered source with the server's."""
    changes = []
    for flow_id, text in rendered.items():
        if flow_id not in current:
            changes.append(FlowChange(flow_id, "create", None, None))
        else:
            same = _same_source(client.flow(namespace, flow_id, source=True), text)
            changes.append(FlowChange(flow_id, "unchanged" if same else "update", current[flow_id], None))
    changes += [FlowChange(flow_id, "delete" if prune else "keep", current[flow_id], None)
                for flow_id in stale_flows(current, rendered)]
    return changes


def register(client: KestraClient, namespace: str, rendered: dict[str, str], *, before: dict[str, int | None],
             prune: list[str]) -> list[FlowChange]:
    """Validate on the server, then create or update every rendered flow (never deleting by side effect),
    then delete exactly the flows in ``prune``. ``before``: server_revisions() read just before."""
    rejected = [v for v in client.validate(list(rendered.values())) if v.errors]
    if rejected:
        raise FlowsRejected(rejected)
    after = {f["id"]: f.get("revision") for f in client.update_namespace(namespace, list(rendered.values()))}
    changes = []
    for flow_id in rendered:
        old, new = before.get(flow_id), after.get(flow_id)
        action = "created" if old is None else ("unchanged" if old == new else "updated")
        changes.append(FlowChange(flow_id, action, old, new))
    for flow_id in stale_flows(before, rendered):
        if flow_id in prune:
            client.delete_flow(namespace, flow_id)
        deleted = flow_id in prune
        changes.append(FlowChange(flow_id, "deleted" if deleted else "kept", before[flow_id],
                                  None if deleted else before[flow_id]))
    return changes


def status(client: KestraClient, namespace: str, rendered: dict[str, str]) -> list[FlowStatus]:
    rows = []
    for flow_id, text in rendered.items():
        flow = client.flow(namespace, flow_id, source=True)
        if flow is None:
            rows.append(FlowStatus(flow_id, None, False, None, None))
            continue
        last = client.executions(namespace, flow_id, size=1)
        start = ((last[0].get("state") or {}).get("startDate")) if last else None
        rows.append(FlowStatus(flow_id, flow.get("revision"), _same_source(flow, text),
                               state_of(last[0]) if last else None, start))
    return rows


def parse_inputs(pairs: list[str]) -> dict[str, str]:
    inputs: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"--input {pair!r}: write NAME=VALUE, e.g. --input service=qdrant")
        inputs[name] = value
    return inputs


def flow_ref(catalog: Catalog, flow: str) -> tuple[str, str]:
    """``id`` (in the catalog's namespace) or ``namespace.id`` → (namespace, id)."""
    namespace, _, flow_id = flow.rpartition(".")
    return (namespace or catalog.project.kestra_namespace), flow_id


@dataclass(frozen=True)
class RunResult:
    execution: dict[str, Any]
    problems: list[dict[str, Any]]  # the execution's ERROR and WARN log lines, read only when it failed

    @property
    def ok(self) -> bool:
        return state_of(self.execution) in SUCCESSFUL_STATES


def run(client: KestraClient, namespace: str, flow_id: str, inputs: dict[str, str], *, timeout: float,
        on_change: Callable[[dict[str, Any]], None], interval: float = 1.0) -> RunResult:
    started = client.start(namespace, flow_id, inputs)
    execution = client.follow(started["id"], timeout=timeout, interval=interval, on_change=on_change)
    failed = state_of(execution) not in SUCCESSFUL_STATES
    problems = [line for line in client.logs(execution["id"]) if line.get("level") in ("ERROR", "WARN")] if failed else []
    return RunResult(execution, problems)
