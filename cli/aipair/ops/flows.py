"""Register the rendered Kestra flows and report their state: the decisions behind `aipair flows`.

The rendered flows (render/kestra.py) are the truth; the server is brought to them. Nothing is
deleted unless asked (``prune``), and then only the flows listed to the user first.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from pathlib import Path

from pydantic import JsonValue

from ..catalog.model import Catalog
from ..engines.kestra import KestraClient, KestraError
from ..engines.kestra_answers import Execution, FlowInfo, LogLine, Violation
from ..errors import Declined, UsageError
from ..render.files import render_flows
from ..render.kestra import FLOW_ORDER, READ_ONLY_LABEL
from ..results import Result
from .callbacks import Confirm
from .render import require_kestra


class FlowChange(Result):
    flow: str
    action: str  # created | updated | unchanged | deleted | kept (on the server, no longer rendered);
    # a dry run says create | update | unchanged | delete | keep
    revision_before: int | None
    revision_after: int | None


class FlowStatus(Result):
    """One rendered flow on the server. ``state``: in sync, missing, or drift (the server's source is not
    the rendered one: edited on the server, or the catalog changed since the last register). ``diff``:
    rendered → server, unified, at most DIFF_LINES lines. ``read_only``: the server's copy carries
    system.readOnly "true" (None when missing)."""

    flow: str
    revision: int | None
    in_sync: bool
    state: str
    read_only: bool | None
    diff: list[str]
    last_state: str | None
    last_start: str | None


class FlowVerdict(Result):
    """Kestra's verdict on one flow: ``constraints`` is its message verbatim (None: valid)."""

    name: str | None  # the file or flow id it was read as
    index: int
    flow: str | None
    constraints: str | None
    outdated: bool
    warnings: list[str]
    deprecations: list[str]
    infos: list[str]


class ValidationResult(Result):
    ok: bool
    flows: list[FlowVerdict]


class RegisterResult(Result):
    ok: bool = True
    namespace: str
    dry_run: bool
    flows: list[FlowChange]


class StatusResult(Result):
    ok: bool
    namespace: str
    server_version: str
    flows: list[FlowStatus]


class FlowsRejected(KestraError):
    """The server's validation found errors; nothing was registered."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        lines = [f"  {v.flow or f'flow #{v.index + 1}'}: {v.constraints}" for v in violations]
        super().__init__("Kestra rejected the flows; nothing was registered:\n" + "\n".join(lines))


def sources_by_id(files: dict[str, str]) -> dict[str, str]:
    """kestra-flows/<id>.yml texts keyed by flow id, in registration order (subflows first)."""
    by_id = {path.rsplit("/", 1)[-1].removesuffix(".yml"): text for path, text in files.items()}
    order = {flow_id: index for index, flow_id in enumerate(FLOW_ORDER)}
    return dict(sorted(by_id.items(), key=lambda item: (order.get(item[0], len(order)), item[0])))


def server_revisions(client: KestraClient, namespace: str) -> dict[str, int | None]:
    """Every flow of the namespace on the server with its revision: one request, read once per command."""
    return {flow.id: flow.revision for flow in client.flows(namespace)}


def stale_flows(current: dict[str, int | None], rendered: dict[str, str]) -> list[str]:
    """Flows on the server that the catalog no longer renders (what --prune would delete)."""
    return sorted(set(current) - set(rendered))


def _same_source(flow: FlowInfo | None, text: str) -> bool:
    # Kestra trims each source of a bulk body, so compare trimmed.
    return flow is not None and (flow.source or "").strip() == text.strip()


def plan(
    client: KestraClient, namespace: str, rendered: dict[str, str], current: dict[str, int | None], *, prune: bool
) -> list[FlowChange]:
    """What register would do (--dry-run), judged by comparing each rendered source with the server's."""
    changes = []
    for flow_id, text in rendered.items():
        if flow_id not in current:
            changes.append(FlowChange(flow=flow_id, action="create", revision_before=None, revision_after=None))
        else:
            same = _same_source(client.flow(namespace, flow_id, source=True), text)
            changes.append(
                FlowChange(
                    flow=flow_id,
                    action="unchanged" if same else "update",
                    revision_before=current[flow_id],
                    revision_after=None,
                )
            )
    changes += [
        FlowChange(
            flow=flow_id, action="delete" if prune else "keep", revision_before=current[flow_id], revision_after=None
        )
        for flow_id in stale_flows(current, rendered)
    ]
    return changes


def register(
    client: KestraClient, namespace: str, rendered: dict[str, str], *, before: dict[str, int | None], prune: list[str]
) -> list[FlowChange]:
    """Validate on the server, then create or update every rendered flow (never deleting by side effect),
    then delete exactly the flows in ``prune``. ``before``: server_revisions() read just before."""
    rejected = [v for v in client.validate(list(rendered.values())) if v.rejected]
    if rejected:
        raise FlowsRejected(rejected)
    after = {flow.id: flow.revision for flow in client.update_namespace(namespace, list(rendered.values()))}
    changes = []
    for flow_id in rendered:
        old, new = before.get(flow_id), after.get(flow_id)
        action = "created" if old is None else ("unchanged" if old == new else "updated")
        changes.append(FlowChange(flow=flow_id, action=action, revision_before=old, revision_after=new))
    for flow_id in stale_flows(before, rendered):
        if flow_id in prune:
            client.delete_flow(namespace, flow_id)
        deleted = flow_id in prune
        changes.append(
            FlowChange(
                flow=flow_id,
                action="deleted" if deleted else "kept",
                revision_before=before[flow_id],
                revision_after=None if deleted else before[flow_id],
            )
        )
    return changes


DIFF_LINES = 40


def source_diff(rendered: str, server: str, *, limit: int = DIFF_LINES) -> list[str]:
    """The unified diff from the rendered flow to the server's, cut at ``limit`` lines (and saying so)."""
    lines = list(
        difflib.unified_diff(
            rendered.strip().splitlines(), server.strip().splitlines(), "rendered", "server", lineterm="", n=1
        )
    )
    if len(lines) > limit:
        lines = [*lines[:limit], f"… {len(lines) - limit} more lines"]
    return lines


def flows_status(client: KestraClient, namespace: str, rendered: dict[str, str]) -> StatusResult:
    """Each rendered flow on the server: revision, in sync with the catalog or drifted (with the diff),
    read-only or not, last execution."""
    rows = []
    for flow_id, text in rendered.items():
        flow = client.flow(namespace, flow_id, source=True)
        if flow is None:
            rows.append(
                FlowStatus(
                    flow=flow_id,
                    revision=None,
                    in_sync=False,
                    state="missing",
                    read_only=None,
                    diff=[],
                    last_state=None,
                    last_start=None,
                )
            )
            continue
        last = client.executions(namespace, flow_id, size=1)
        same = _same_source(flow, text)
        rows.append(
            FlowStatus(
                flow=flow_id,
                revision=flow.revision,
                in_sync=same,
                state="in sync" if same else "drift",
                read_only=flow.labels.get(READ_ONLY_LABEL) == "true",
                diff=[] if same else source_diff(text, flow.source or ""),
                last_state=last[0].state if last else None,
                last_start=last[0].started if last else None,
            )
        )
    return StatusResult(
        ok=all(row.in_sync for row in rows), namespace=namespace, server_version=client.version(), flows=rows
    )


def parse_inputs(pairs: list[str]) -> dict[str, str]:
    inputs: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--input {pair!r}: write NAME=VALUE, e.g. --input service=qdrant")
        inputs[name] = value
    return inputs


# Kestra's own shapes for a namespace and a flow id: the two become parts of the API's URL paths, so
# nothing else (a '/', '..', '?') may reach them.
FLOW_REF_RE = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9][A-Za-z0-9_-]*)*\.)?[A-Za-z0-9][A-Za-z0-9_-]*$")


def flow_ref(catalog: Catalog, flow: str) -> tuple[str, str]:
    """``id`` (in the catalog's namespace) or ``namespace.id`` → (namespace, id)."""
    if not FLOW_REF_RE.match(flow):
        raise UsageError(
            f"{flow!r} is not a flow: write its id (validate-candidate) or namespace.id "
            "(aipair.platform.validate-candidate): letters, digits, '_' and '-', parts joined by '.'"
        )
    namespace, _, flow_id = flow.rpartition(".")
    return (namespace or catalog.project.kestra_namespace), flow_id


class RunResult(Result):
    execution: Execution
    problems: list[LogLine]  # the execution's ERROR and WARN log lines, read only when it failed

    @property
    def ok(self) -> bool:
        return self.execution.ok

    def to_json(self) -> JsonValue:
        """The execution's fields beside the verdict, not nested (the problems are for people only)."""
        execution = self.execution.to_json()
        assert isinstance(execution, dict)
        return {"ok": self.ok, **execution}


def run(
    client: KestraClient,
    namespace: str,
    flow_id: str,
    inputs: dict[str, str],
    *,
    timeout: float,
    on_change: Callable[[Execution], None],
    interval: float = 1.0,
) -> RunResult:
    started = client.start(namespace, flow_id, inputs)
    execution = client.follow(started.id, timeout=timeout, interval=interval, on_change=on_change)
    problems = (
        [line for line in client.logs(execution.id) if line.level in ("ERROR", "WARN")] if not execution.ok else []
    )
    return RunResult(execution=execution, problems=problems)


def rendered_flows(catalog: Catalog, catalog_path: Path, runner: str | None) -> dict[str, str]:
    """The flows the catalog renders, by id, in registration order."""
    require_kestra(catalog, catalog_path)
    return sources_by_id(render_flows(catalog, source=catalog_path.name, runner=runner).files)


def read_flow_files(paths: list[Path]) -> dict[str, str]:
    return {str(path): path.read_text(encoding="utf-8") for path in paths}


def validate(client: KestraClient, sources: dict[str, str]) -> ValidationResult:
    """The server's own validation of each source (nothing is saved)."""
    names = list(sources)
    verdicts = [
        FlowVerdict(name=names[v.index] if v.index < len(names) else None, **v.model_dump())
        for v in client.validate(list(sources.values()))
    ]
    return ValidationResult(ok=not any(v.constraints for v in verdicts), flows=verdicts)


def register_flows(
    client: KestraClient, namespace: str, rendered: dict[str, str], *, prune: bool, dry_run: bool, confirm: Confirm
) -> RegisterResult:
    """Validate, then create or update; with ``prune``, delete the stale flows once ``confirm`` agrees."""
    current = server_revisions(client, namespace)
    if dry_run:
        return RegisterResult(
            namespace=namespace, dry_run=True, flows=plan(client, namespace, rendered, current, prune=prune)
        )
    stale = stale_flows(current, rendered)
    if prune and stale and not confirm(f"--prune deletes these flows of {namespace}: {', '.join(stale)}. Delete them?"):
        raise Declined("nothing registered or deleted")
    changes = register(client, namespace, rendered, before=current, prune=stale if prune else [])
    return RegisterResult(namespace=namespace, dry_run=False, flows=changes)
