"""The pure half of `aipair status --phase scale` (aipair.ops.cluster): verdicts and reasons from hand-made
snapshots. The same logic on a real API server is tests/engine/test_kube_status.py."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from aipair.engines import kube
from aipair.ops.cluster import judge, pod_problems, selects

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
APP = kube.Selector({"app": "web"}, ())


def workload(kind: str = "Deployment", name: str = "web", **counts: object) -> kube.Workload:
    values: dict[str, object] = {"generation": 1, "observed_generation": 1, "desired": 2, "updated": 2, "ready": 2,
                                 "available": 2, "conditions": ()}  # fmt: skip
    values.update(counts)
    return kube.Workload(kind=kind, name=name, selector=APP, **values)  # type: ignore[arg-type]


def container(state: str, reason: str = "", *, init: bool = False, exit_code: int | None = None) -> kube.ContainerState:
    return kube.ContainerState(name="c", init=init, ready=False, restarts=3, state=state, reason=reason,  # type: ignore[arg-type]
                               message=f"{reason} message", exit_code=exit_code)  # fmt: skip


def pod(phase: str = "Pending", *conditions: kube.Condition, containers: tuple[kube.ContainerState, ...] = (),
        deleting: bool = False) -> kube.Pod:  # fmt: skip
    return kube.Pod(name="web-1", phase=phase, labels={"app": "web"}, conditions=conditions, containers=containers,
                    deleting=deleting, created=NOW)  # fmt: skip


def snapshot(
    *workloads: kube.Workload, pods: tuple[kube.Pod, ...] = (), events: tuple[kube.Event, ...] = ()
) -> kube.Snapshot:
    return kube.Snapshot(server="https://k", context="c", namespace="ns", read_at=NOW, workloads=workloads, pods=pods,
                         autoscalers=(), events=events, events_total=len(events))  # fmt: skip


UNSCHEDULABLE = kube.Condition("PodScheduled", "False", "Unschedulable", "0/3 nodes are available: 3 Insufficient cpu.")
SCHEDULED = kube.Condition("PodScheduled", "True", "", "")
READY = kube.Condition("Ready", "True", "", "")


def reasons(p: kube.Pod) -> list[tuple[str, str]]:
    return [(r.reason, r.message) for r in pod_problems(p, "Deployment/web")]


def test_a_pending_pod_says_why_it_is_not_scheduled() -> None:
    assert reasons(pod("Pending", UNSCHEDULABLE)) == [("Unschedulable", "0/3 nodes are available: 3 Insufficient cpu.")]
    assert reasons(pod("Pending")) == [("NotScheduled", "not scheduled yet")]
    assert reasons(pod("Pending", kube.Condition("PodScheduled", "False", "", ""))) == [
        ("NotScheduled", "not scheduled yet")
    ]


@pytest.mark.parametrize(
    "reason", ["CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError", "InvalidImageName"]
)
def test_container_waiting_reasons_come_first(reason: str) -> None:
    assert reasons(pod("Pending", SCHEDULED, containers=(container("waiting", reason),))) == [
        (reason, f"{reason} message")
    ]
    # a scheduler still rewriting the condition does not hide what a kubelet reported
    assert reasons(pod("Running", UNSCHEDULABLE, containers=(container("waiting", reason),)))[0][0] == reason


def test_terminated_containers_say_how_they_ended() -> None:
    ended = container("terminated", "Error", exit_code=1)
    assert reasons(pod("Running", SCHEDULED, containers=(ended,))) == [("Error (exit 1)", "Error message")]
    oom = container("terminated", "OOMKilled", exit_code=137)
    assert reasons(pod("Running", SCHEDULED, containers=(oom,)))[0][0] == "OOMKilled (exit 137)"
    done = container("terminated", "Completed", init=True, exit_code=0)  # an init container that finished: fine
    starting = container("waiting", "PodInitializing")
    assert reasons(pod("Pending", SCHEDULED, containers=(done, starting))) == [
        ("PodInitializing", "PodInitializing message")
    ]
    failed_init = container("terminated", "Error", init=True, exit_code=2)
    assert reasons(pod("Pending", SCHEDULED, containers=(failed_init,))) == [("Error (exit 2)", "Error message")]


def test_running_but_not_ready_gives_the_ready_condition() -> None:
    not_ready = kube.Condition("Ready", "False", "ContainersNotReady", "containers with unready status: [c]")
    running = container("running")
    assert reasons(pod("Running", SCHEDULED, not_ready, containers=(running,))) == [
        ("ContainersNotReady", "containers with unready status: [c]")
    ]
    assert reasons(pod("Running", SCHEDULED, containers=(running,)))[0][0] == "NotReady"


def test_ready_succeeded_and_terminating_pods() -> None:
    assert reasons(pod("Running", SCHEDULED, READY)) == []
    assert reasons(pod("Succeeded")) == []
    assert reasons(pod("Running", SCHEDULED, READY, deleting=True)) == [("Terminating", "the pod is being deleted")]


@pytest.mark.parametrize(
    ("counts", "ok", "detail"),
    [
        ({}, True, "2/2 ready"),
        ({"ready": 0, "available": 0}, False, "0/2 ready, 0/2 available"),
        ({"updated": 1}, False, "1/2 updated"),
        ({"generation": 2}, False, "the controller has not seen the latest spec yet"),
        ({"desired": 0, "updated": 0, "ready": 0, "available": 0}, True, "0/0 ready"),
        (
            {"conditions": (kube.Condition("Progressing", "False", "ProgressDeadlineExceeded", "too slow"),)},
            False,
            "ProgressDeadlineExceeded: too slow",
        ),
    ],
)
def test_replica_verdicts(counts: dict[str, object], ok: bool, detail: str) -> None:
    for kind in ("Deployment", "StatefulSet"):
        row = judge(snapshot(workload(kind, **counts)), [(kind, "web")]).workloads[0]
        assert (row.ok, row.detail) == (ok, detail)


def test_job_verdicts() -> None:
    complete = kube.Condition("Complete", "True", "", "")
    failed = kube.Condition("Failed", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
    cases = {
        "done": (workload("Job", desired=1, succeeded=1, conditions=(complete,)), True),
        "running": (workload("Job", desired=1, active=1), False),
        "failed": (workload("Job", desired=1, failed=7, conditions=(failed,)), False),
    }
    for name, (job, ok) in cases.items():
        row = judge(snapshot(job), [("Job", "web")]).workloads[0]
        assert row.ok is ok, name
        assert (row.completions, row.succeeded, row.failed, row.active) == (1, job.succeeded, job.failed, job.active)
    row = judge(snapshot(cases["failed"][0]), []).workloads[0]
    assert row.detail == "failed: BackoffLimitExceeded: Job has reached the specified backoff limit"


def test_missing_and_extra_workloads() -> None:
    status = judge(snapshot(workload(name="web"), workload(name="legacy")), [("Deployment", "web"), ("Job", "init")])
    rows = {(r.kind, r.name): r for r in status.workloads}
    assert rows["Job", "init"].present is False and rows["Job", "init"].ok is False
    assert rows["Deployment", "legacy"].in_catalog is False
    assert status.ok is False
    assert judge(snapshot(workload()), [("Deployment", "web")]).ok is True


def test_selectors() -> None:
    expressions = kube.Selector(
        {"app": "web"},
        (kube.SelectorRequirement("tier", "In", ("a", "b")), kube.SelectorRequirement("canary", "DoesNotExist", ())),
    )
    assert selects(expressions, {"app": "web", "tier": "a"})
    assert not selects(expressions, {"app": "web", "tier": "c"})
    assert not selects(expressions, {"app": "web", "tier": "a", "canary": "1"})
    assert not selects(kube.Selector({}, ()), {"app": "web"})  # an empty selector claims no pod here
    not_in = kube.Selector(
        {}, (kube.SelectorRequirement("tier", "NotIn", ("x",)), kube.SelectorRequirement("app", "Exists", ()))
    )
    assert selects(not_in, {"app": "y", "tier": "a"}) and not selects(not_in, {"tier": "a"})


def test_pods_are_attributed_and_events_aged() -> None:
    seen = NOW - timedelta(minutes=5)
    event = kube.Event("Pod", "web-1", "FailedScheduling", "0/0 nodes", 4, seen)
    status = judge(snapshot(workload(ready=0), pods=(pod("Pending", UNSCHEDULABLE),), events=(event,)), [])
    assert status.pods_not_ready[0].workload == "Deployment/web"
    assert (status.warnings[0].object, status.warnings[0].age_seconds, status.warnings[0].count) == (
        "Pod/web-1",
        300,
        4,
    )


def test_the_json_document_keeps_its_keys() -> None:
    status = judge(snapshot(workload(ready=0), pods=(pod("Pending", UNSCHEDULABLE),)), [("Deployment", "web")])
    document = status.to_json()
    assert isinstance(document, dict)
    assert list(document) == [
        "ok", "server", "context", "namespace", "workloads", "pods_not_ready", "autoscalers", "warnings", "warnings_total", "stack"
    ]  # fmt: skip
    assert list(document["workloads"][0]) == [  # type: ignore[index,call-overload]
        "kind", "name", "present", "in_catalog", "desired", "updated", "ready", "available", "completions",
        "succeeded", "failed", "active", "ok", "detail",
    ]  # fmt: skip
    assert list(document["pods_not_ready"][0]) == [  # type: ignore[index,call-overload]
        "pod", "workload", "phase", "container", "reason", "message", "restarts"
    ]  # fmt: skip


def test_status_help_does_not_import_the_kubernetes_client() -> None:
    script = (
        "import sys\nsys.argv = ['aipair', 'status', '--help']\nfrom aipair.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('kubernetes' in sys.modules, file=sys.stderr)"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.stderr.strip().splitlines()[-1] == "False"


def test_one_noisy_reason_does_not_hide_the_others() -> None:
    """Eighteen HPAs without a metrics server repeat their warning every 15 s; the scheduler's is older."""
    noisy = [kube.Event("HorizontalPodAutoscaler", f"h{i}", "FailedGetResourceMetric", "no metrics", 9, NOW - timedelta(seconds=i))
             for i in range(40)]  # fmt: skip
    scheduling = [
        kube.Event("Pod", f"p{i}", "FailedScheduling", "no nodes", 2, NOW - timedelta(minutes=10 + i)) for i in range(3)
    ]
    shown = kube.newest_events(noisy + scheduling, NOW, limit=20)
    assert len(shown) == 20
    assert [e.name for e in shown if e.reason == "FailedScheduling"] == ["p0", "p1", "p2"]
    assert [e.last_seen for e in shown] == sorted((e.last_seen for e in shown), reverse=True)
    assert kube.newest_events(noisy[:3], NOW, limit=20) == tuple(noisy[:3])  # few events: all of them
    assert len(kube.newest_events(noisy, NOW, limit=20)) == 20  # one reason only: still fills the limit
