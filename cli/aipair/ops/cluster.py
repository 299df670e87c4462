"""Phase 2's status read from the cluster itself: `aipair status --phase scale`.

Works for a cluster deployed by any means (Pulumi, `kubectl apply`, a pipeline): the catalog says which
namespace and which workloads to expect, the cluster says what is there. Each workload gets a verdict; each
pod that is not ready gets its reason in the words Kubernetes uses (Unschedulable, CrashLoopBackOff,
ImagePullBackOff, …); the HPAs and the recent Warning events are shown as they are. Nothing is changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel

from ..catalog.model import Catalog
from ..engines import kube
from ..engines.pulumi import StackResult
from ..render.kubernetes import render_kubernetes
from ..results import Result

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job")
# Waiting reasons that only say the container is on its way (not a problem by themselves).
STARTING = frozenset({"ContainerCreating", "PodInitializing"})


class WorkloadRow(BaseModel):
    """One workload: the replica counts (Jobs: completions and the pod counts) and whether it is ready."""

    kind: str
    name: str
    present: bool
    in_catalog: bool
    desired: int
    updated: int
    ready: int
    available: int
    completions: int | None = None
    succeeded: int | None = None
    failed: int | None = None
    active: int | None = None
    ok: bool
    detail: str


class PodProblem(BaseModel):
    """Why one pod is not ready: its own reason (not scheduled) or a container's (waiting, terminated)."""

    pod: str
    workload: str
    phase: str
    container: str
    reason: str
    message: str
    restarts: int


class MetricRow(BaseModel):
    name: str
    current: str
    target: str


class AutoscalerRow(BaseModel):
    name: str
    target: str
    min_replicas: int
    max_replicas: int
    current_replicas: int
    desired_replicas: int
    metrics: list[MetricRow]
    note: str


class EventRow(BaseModel):
    object: str
    reason: str
    message: str
    count: int
    last_seen: datetime | None
    age_seconds: int | None


class ClusterStatus(Result):
    """The `--json` document of `aipair status --phase scale`; ``stack`` only with ``--stack``."""

    ok: bool
    server: str
    context: str
    namespace: str
    workloads: list[WorkloadRow]
    pods_not_ready: list[PodProblem]
    autoscalers: list[AutoscalerRow]
    warnings: list[EventRow]
    warnings_total: int
    stack: StackResult | None = None


def expected_workloads(catalog: Catalog) -> tuple[str, list[tuple[str, str]]]:
    """The namespace and the (kind, name) of every workload the catalog renders for Kubernetes."""
    groups, _ = render_kubernetes(catalog)
    objects = [obj for group in groups.values() for obj in group]
    workloads = [(str(o["kind"]), str(o["metadata"]["name"])) for o in objects if o["kind"] in WORKLOAD_KINDS]
    return catalog.project.namespace, workloads


def cluster_status(catalog: Catalog, kubeconfig: Path | None, context: str | None) -> ClusterStatus:
    """Read the catalog's namespace and judge it: ``ok`` only when every workload is present and ready."""
    namespace, expected = expected_workloads(catalog)
    snapshot = kube.read_namespace(kubeconfig, context, namespace)
    return judge(snapshot, expected)


def judge(snapshot: kube.Snapshot, expected: list[tuple[str, str]]) -> ClusterStatus:
    """The verdict on what was read (pure: the unit tests call it with hand-made snapshots)."""
    found = {(w.kind, w.name): w for w in snapshot.workloads}
    wanted = set(expected)
    rows = [workload_row(w, in_catalog=(w.kind, w.name) in wanted) for w in snapshot.workloads]
    rows += [missing_row(kind, name) for kind, name in expected if (kind, name) not in found]
    rows.sort(key=lambda r: (WORKLOAD_KINDS.index(r.kind) if r.kind in WORKLOAD_KINDS else 9, r.name))
    problems = [problem for pod in snapshot.pods for problem in pod_problems(pod, owner_of(pod, snapshot.workloads))]
    return ClusterStatus(
        ok=all(r.ok for r in rows),
        server=snapshot.server,
        context=snapshot.context,
        namespace=snapshot.namespace,
        workloads=rows,
        pods_not_ready=problems,
        autoscalers=[autoscaler_row(a) for a in snapshot.autoscalers],
        warnings=[event_row(e, snapshot.read_at) for e in snapshot.events],
        warnings_total=snapshot.events_total,
    )


# --- workloads ---------------------------------------------------------------------------------------------


def missing_row(kind: str, name: str) -> WorkloadRow:
    return WorkloadRow(
        kind=kind, name=name, present=False, in_catalog=True, desired=0, updated=0, ready=0, available=0, ok=False,
        detail="missing: the catalog renders it, the cluster does not have it",
    )  # fmt: skip


def workload_row(w: kube.Workload, *, in_catalog: bool) -> WorkloadRow:
    if w.kind == "Job":
        ok, detail = job_verdict(w)
        return WorkloadRow(
            kind=w.kind, name=w.name, present=True, in_catalog=in_catalog, desired=w.desired, updated=w.updated,
            ready=w.ready, available=w.available, completions=w.desired, succeeded=w.succeeded, failed=w.failed,
            active=w.active, ok=ok, detail=detail,
        )  # fmt: skip
    ok, detail = replica_verdict(w)
    return WorkloadRow(
        kind=w.kind, name=w.name, present=True, in_catalog=in_catalog, desired=w.desired, updated=w.updated,
        ready=w.ready, available=w.available, ok=ok, detail=detail,
    )  # fmt: skip


def _condition(conditions: Iterable[kube.Condition], kind: str) -> kube.Condition | None:
    return next((c for c in conditions if c.type == kind), None)


def replica_verdict(w: kube.Workload) -> tuple[bool, str]:
    """Ready when the controller has seen the latest spec and every desired replica is updated, ready and
    available. The detail names every shortfall, counts first."""
    short = [
        f"{count}/{w.desired} {word}"
        for count, word in ((w.ready, "ready"), (w.updated, "updated"), (w.available, "available"))
        if count < w.desired
    ]
    if w.observed_generation < w.generation:
        short.append("the controller has not seen the latest spec yet")
    stalled = _condition(w.conditions, "Progressing")
    if stalled and stalled.status == "False":
        short.append(f"{stalled.reason}: {stalled.message}".strip(": "))
    if short:
        return False, ", ".join(short)
    return True, f"{w.ready}/{w.desired} ready"


def job_verdict(w: kube.Workload) -> tuple[bool, str]:
    """Ready when complete; a failed Job says why; a running one is not ready yet."""
    failed = _condition(w.conditions, "Failed")
    if failed and failed.status == "True":
        return False, f"failed: {failed.reason}: {failed.message}".strip(": ")
    complete = _condition(w.conditions, "Complete")
    if (complete and complete.status == "True") or w.succeeded >= w.desired:
        return True, f"complete: {w.succeeded}/{w.desired} succeeded"
    return False, f"not complete: {w.succeeded}/{w.desired} succeeded, {w.active} active, {w.failed} failed"


def selects(selector: kube.Selector, labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics (matchLabels and matchExpressions); an empty selector selects
    nothing here (a workload always has one)."""
    if not selector.match_labels and not selector.match_expressions:
        return False
    if any(labels.get(k) != v for k, v in selector.match_labels.items()):
        return False
    for requirement in selector.match_expressions:
        value = labels.get(requirement.key)
        if requirement.operator == "In" and value not in requirement.values:
            return False
        if requirement.operator == "NotIn" and value in requirement.values:
            return False
        if requirement.operator == "Exists" and requirement.key not in labels:
            return False
        if requirement.operator == "DoesNotExist" and requirement.key in labels:
            return False
    return True


def owner_of(pod: kube.Pod, workloads: Iterable[kube.Workload]) -> str:
    return next((f"{w.kind}/{w.name}" for w in workloads if selects(w.selector, pod.labels)), "")


# --- pods --------------------------------------------------------------------------------------------------


def pod_problems(pod: kube.Pod, workload: str) -> list[PodProblem]:
    """Why ``pod`` is not ready, most specific first; nothing when it is ready or finished successfully."""
    if pod.phase == "Succeeded":
        return []
    ready = _condition(pod.conditions, "Ready")
    if ready and ready.status == "True" and not pod.deleting:
        return []

    def problem(reason: str, message: str, container: str = "", restarts: int = 0) -> PodProblem:
        return PodProblem(
            pod=pod.name, workload=workload, phase=pod.phase, container=container, reason=reason, message=message,
            restarts=restarts,
        )  # fmt: skip

    if pod.deleting:
        return [problem("Terminating", "the pod is being deleted")]
    # What a kubelet reported about the containers is the most specific: a pod has container states only once
    # a node runs it (a scheduler retrying an unbound pod may still be rewriting its PodScheduled condition).
    found = [container_problem(c, problem) for c in pod.containers if failing(c)]
    if found:
        return found
    scheduled = _condition(pod.conditions, "PodScheduled")
    if scheduled is None and pod.phase == "Pending":
        return [problem("NotScheduled", "not scheduled yet")]
    if scheduled is not None and scheduled.status != "True":
        return [problem(scheduled.reason or "NotScheduled", scheduled.message or "not scheduled yet")]
    starting = next((c for c in pod.containers if c.state == "waiting"), None)
    if starting is not None:
        return [problem(starting.reason or "Waiting", starting.message, starting.name, starting.restarts)]
    if ready is not None and (ready.reason or ready.message):
        return [problem(ready.reason or "NotReady", ready.message)]
    return [problem("NotReady", f"phase {pod.phase}, no container reported ready")]


def failing(c: kube.ContainerState) -> bool:
    """A container that waits for a reason other than starting up, or that ended (an init container that
    ended well is done, not failing)."""
    if c.state == "waiting":
        return bool(c.reason) and c.reason not in STARTING
    return c.state == "terminated" and not (c.init and c.exit_code == 0)


def container_problem(c: kube.ContainerState, problem: Callable[[str, str, str, int], PodProblem]) -> PodProblem:
    if c.state == "terminated":
        return problem(f"{c.reason or 'Terminated'} (exit {c.exit_code})", c.message, c.name, c.restarts)
    return problem(c.reason, c.message, c.name, c.restarts)


# --- autoscalers and events --------------------------------------------------------------------------------


def autoscaler_row(a: kube.Autoscaler) -> AutoscalerRow:
    """The HPA's numbers; ``note`` says why it cannot scale when it says so (no metrics, for example)."""
    note = ""
    for kind in ("AbleToScale", "ScalingActive"):
        condition = _condition(a.conditions, kind)
        if condition and condition.status == "False":
            note = f"{condition.reason}: {condition.message}".strip(": ")
            break
    return AutoscalerRow(
        name=a.name, target=f"{a.target_kind}/{a.target_name}", min_replicas=a.min_replicas,
        max_replicas=a.max_replicas, current_replicas=a.current_replicas, desired_replicas=a.desired_replicas,
        metrics=[MetricRow(name=m.name, current=m.current or "unknown", target=m.target) for m in a.metrics],
        note=note,
    )  # fmt: skip


def event_row(e: kube.Event, now: datetime) -> EventRow:
    age = None if e.last_seen is None else max(0, int((now - e.last_seen).total_seconds()))
    return EventRow(
        object=f"{e.kind}/{e.name}", reason=e.reason, message=e.message, count=e.count, last_seen=e.last_seen,
        age_seconds=age,
    )  # fmt: skip
