"""`aipair status --phase scale` against a real Kubernetes API server (tests/helpers/kube.py: etcd, kube-apiserver,
controller manager and scheduler; no kubelet, so pods stay Pending and status must say so).

The default catalog's objects are applied with plain server-side apply through REST — a cluster deployed "by
other means", no Pulumi stack — and the real CLI reads it with the `kubernetes` client. Where a kubelet would
report container states, the test writes them itself through the pods' status subresource, as an admin may.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from aipair.engines import kube as engine
from aipair.errors import UsageError

from ..helpers.commands import cli
from ..helpers.kube import Cluster, ControlPlane, rendered, wait_until
from ..helpers.paths import DEFAULT_CATALOG, ROOT

SETTLE_TIMEOUT = 90.0
NO_ROOM = re.compile(
    r"no nodes available to schedule pods|0/1 nodes are available: (1 node\(s\) had untolerated taint|pod has unbound immediate PersistentVolumeClaims)"
)
NAMESPACE = "aipair"
CLI = ROOT / "cli"


def status(*args: str) -> Any:
    return cli("status", "--phase", "scale", "--catalog", str(DEFAULT_CATALOG), *args)


def status_json(plane: ControlPlane, *args: str) -> tuple[int, dict[str, Any]]:
    result = status("--kubeconfig", str(plane.kubeconfig), "--json", *args)
    return result.exit_code, json.loads(result.stdout)


def wait_for(what: str, probe: Callable[[], Any], timeout: float = SETTLE_TIMEOUT) -> Any:
    return wait_until(what, probe, timeout=timeout)


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return rendered(DEFAULT_CATALOG)


@pytest.fixture(scope="module")
def deployed(kube: ControlPlane, objects: list[dict[str, Any]]) -> Iterator[Cluster]:
    """The default catalog applied with plain REST (no Pulumi), and settled: every Deployment has its pods and
    the scheduler has said why it cannot place them."""
    cluster = Cluster(kube)
    for obj in objects:
        cluster.apply(obj)

    def settled() -> dict[str, Any] | None:
        code, doc = status_json(kube)
        assert "error" not in doc, doc
        owners = {p["workload"] for p in doc["pods_not_ready"] if p["reason"] == "Unschedulable"}
        deployments = {f"Deployment/{w['name']}" for w in doc["workloads"] if w["kind"] == "Deployment"}
        scheduled = any(e["reason"] == "FailedScheduling" for e in doc["warnings"])
        return doc if deployments and deployments <= owners and scheduled else None

    wait_for("every Deployment's pods reported Unschedulable, FailedScheduling events", settled)
    yield cluster


def _by_name(doc: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {w["name"]: w for w in doc["workloads"] if w["kind"] == kind}


def test_pending_pods_are_reported_honestly(
    kube: ControlPlane, deployed: Cluster, objects: list[dict[str, Any]]
) -> None:
    code, doc = status_json(kube)
    assert code == 1
    assert doc["ok"] is False
    assert doc["namespace"] == NAMESPACE and doc["context"] == "aipair-test" and doc["server"] == kube.server
    assert doc["stack"] is None  # no --stack: Pulumi is not touched

    for kind in ("Deployment", "StatefulSet"):
        live = _by_name(doc, kind)
        wanted = {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}
        assert set(wanted) <= set(live), kind
        for name, obj in wanted.items():
            row = live[name]
            assert row["present"] and row["in_catalog"], row
            assert row["desired"] == obj["spec"].get("replicas", 1), row
            assert (row["ready"], row["available"], row["ok"]) == (0, 0, False), row
            assert f"0/{row['desired']} ready" in row["detail"], row
    jobs = _by_name(doc, "Job")
    assert {o["metadata"]["name"] for o in objects if o["kind"] == "Job"} <= set(jobs)
    assert all(not j["ok"] and j["succeeded"] == 0 and j["completions"] >= 1 for j in jobs.values())

    pending = [p for p in doc["pods_not_ready"] if p["workload"].startswith("Deployment/")]
    assert pending and all(p["phase"] == "Pending" and p["reason"] == "Unschedulable" for p in pending)
    # the scheduler's own words: no node at all, or only the test node (its taint is not tolerated; no volumes bind)
    assert all(NO_ROOM.search(p["message"]) for p in pending), [
        p["message"] for p in pending if not NO_ROOM.search(p["message"])
    ]

    failed = [e for e in doc["warnings"] if e["reason"] == "FailedScheduling"]
    assert failed and all(e["object"].startswith("Pod/") and e["count"] >= 1 for e in failed)
    assert all(e["age_seconds"] is not None and e["age_seconds"] < 3600 for e in doc["warnings"])
    seen = [e["last_seen"] for e in doc["warnings"]]
    assert seen == sorted(seen, reverse=True)  # newest first
    assert len(doc["warnings"]) <= engine.EVENTS_LIMIT <= doc["warnings_total"]  # the HPAs warn too: no metrics API
    assert any(e["reason"] == "FailedGetResourceMetric" for e in doc["warnings"])

    hpas = {h["name"]: h for h in doc["autoscalers"]}
    rendered_hpas = {o["metadata"]["name"]: o for o in objects if o["kind"] == "HorizontalPodAutoscaler"}
    assert set(rendered_hpas) == set(hpas)
    for name, obj in rendered_hpas.items():
        row = hpas[name]
        assert (row["min_replicas"], row["max_replicas"]) == (obj["spec"]["minReplicas"], obj["spec"]["maxReplicas"])
        assert row["target"] == f"Deployment/{obj['spec']['scaleTargetRef']['name']}"
        targets = {m["name"]: m["target"] for m in row["metrics"]}
        for metric in obj["spec"].get("metrics", []):
            resource = metric["resource"]
            assert targets[resource["name"]] == f"{resource['target']['averageUtilization']}%"


def test_the_table_says_the_same(kube: ControlPlane, deployed: Cluster) -> None:
    """The real command in its own process, on a wide terminal so that no cell is folded."""
    done = subprocess.run(
        [sys.executable, "-m", "aipair", "status", "--phase", "scale", "--catalog", str(DEFAULT_CATALOG),
         "--kubeconfig", str(kube.kubeconfig)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "400", "PYTHONPATH": str(CLI)},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    text = done.stdout
    assert "workloads ready" in text and "pods not ready" in text and "autoscalers" in text
    assert "Unschedulable" in text and "FailedScheduling" in text and NO_ROOM.search(text)
    assert "cpu: unknown / 70%" in text
    assert "✗ not ready:" in done.stderr


def _pods_of(cluster: Cluster, name: str) -> list[dict[str, Any]]:
    pods = cluster.list(f"/api/v1/namespaces/{NAMESPACE}/pods", labelSelector=f"app.kubernetes.io/name={name}")
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def _patch_status(cluster: Cluster, pod: dict[str, Any], status: dict[str, Any]) -> None:
    answer = cluster.http.patch(
        f"/api/v1/namespaces/{NAMESPACE}/pods/{pod['metadata']['name']}/status",
        content=json.dumps({"status": status}),
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    )
    assert answer.status_code == 200, answer.text


def _container_status(pod: dict[str, Any], state: dict[str, Any], *, ready: bool, restarts: int = 0) -> dict[str, Any]:
    container = pod["spec"]["containers"][0]
    return {"name": container["name"], "image": container["image"], "imageID": "", "ready": ready,
            "restartCount": restarts, "state": state}  # fmt: skip


def _deployments(objects: list[dict[str, Any]]) -> list[str]:
    return sorted(o["metadata"]["name"] for o in objects if o["kind"] == "Deployment")


@pytest.mark.parametrize(
    ("index", "reason", "message"),
    [
        (0, "CrashLoopBackOff", "back-off 40s restarting failed container"),
        (1, "ImagePullBackOff", 'Back-off pulling image "example.invalid/app:1.0"'),
        (2, "ErrImagePull", "failed to resolve reference"),
        (3, "CreateContainerConfigError", 'secret "app-env" not found'),
    ],
)
def test_container_reasons_a_kubelet_reports_are_shown(
    kube: ControlPlane, deployed: Cluster, objects: list[dict[str, Any]], index: int, reason: str, message: str
) -> None:
    name = _deployments(objects)[index]
    pod = wait_for(f"a pod of {name}", lambda: _pods_of(deployed, name))[0]
    waiting = {"waiting": {"reason": reason, "message": message}}
    _patch_status(deployed, pod, {"containerStatuses": [_container_status(pod, waiting, ready=False, restarts=4)]})

    code, doc = status_json(kube)
    assert code == 1
    rows = [p for p in doc["pods_not_ready"] if p["pod"] == pod["metadata"]["name"]]
    container = pod["spec"]["containers"][0]["name"]
    assert rows == [
        {"pod": pod["metadata"]["name"], "workload": f"Deployment/{name}", "phase": "Pending", "container": container,
         "reason": reason, "message": message, "restarts": 4}
    ]  # fmt: skip
    assert _by_name(doc, "Deployment")[name]["ok"] is False


def test_a_terminated_container_says_how_it_ended(
    kube: ControlPlane, deployed: Cluster, objects: list[dict[str, Any]]
) -> None:
    name = _deployments(objects)[4]
    pod = wait_for(f"a pod of {name}", lambda: _pods_of(deployed, name))[0]
    ended = {"terminated": {"reason": "OOMKilled", "exitCode": 137, "message": "memory limit reached"}}
    _patch_status(deployed, pod, {"containerStatuses": [_container_status(pod, ended, ready=False, restarts=1)]})
    code, doc = status_json(kube)
    rows = [p for p in doc["pods_not_ready"] if p["pod"] == pod["metadata"]["name"]]
    assert code == 1
    assert [(r["reason"], r["message"], r["restarts"]) for r in rows] == [
        ("OOMKilled (exit 137)", "memory limit reached", 1)
    ]


def test_a_deployment_whose_pods_are_ready_is_ready(
    kube: ControlPlane, deployed: Cluster, objects: list[dict[str, Any]]
) -> None:
    """The pods are marked Running and Ready as a kubelet would; the ReplicaSet and Deployment controllers then
    count them, and status reads the Deployment's own status subresource as they wrote it."""
    name = _deployments(objects)[-1]
    desired = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == name)["spec"].get(
        "replicas", 1
    )
    pods = wait_for(f"{desired} pods of {name}", lambda: p if len(p := _pods_of(deployed, name)) >= desired else None)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for pod in pods:
        running = {"running": {"startedAt": now}}
        _patch_status(deployed, pod, {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now},
                           {"type": "ContainersReady", "status": "True", "lastTransitionTime": now}],
            "containerStatuses": [_container_status(pod, running, ready=True)],
        })  # fmt: skip

    def ready_row() -> dict[str, Any] | None:
        _, doc = status_json(kube)
        row = _by_name(doc, "Deployment")[name]
        return row if row["ok"] else None

    row = wait_for(f"Deployment {name} ready", ready_row)
    assert (row["desired"], row["updated"], row["ready"], row["available"]) == (desired,) * 4
    assert row["detail"] == f"{desired}/{desired} ready"
    _, doc = status_json(kube)
    assert not [p for p in doc["pods_not_ready"] if p["workload"] == f"Deployment/{name}"]
    assert doc["ok"] is False  # the others are still Pending


def test_a_workload_the_cluster_lacks_is_missing(
    kube: ControlPlane, deployed: Cluster, objects: list[dict[str, Any]]
) -> None:
    name = _deployments(objects)[5]
    obj = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == name)
    deployed.delete(obj, propagation="Background")
    try:
        wait_for(f"{name} deleted", lambda: deployed.get(obj) is None)
        code, doc = status_json(kube)
        assert code == 1
        row = _by_name(doc, "Deployment")[name]
        assert (row["present"], row["ok"]) == (False, False)
        assert row["detail"].startswith("missing")
    finally:
        deployed.apply(obj)


def test_status_with_a_stack_also_touches_pulumi(kube: ControlPlane, deployed: Cluster, tmp_path: Path) -> None:
    """--stack keeps the Pulumi path: here with a backend that has no such stack, so Pulumi's answer comes back
    (the stack is not created) — the cluster read alone never needs Pulumi."""
    result = status("--kubeconfig", str(kube.kubeconfig), "--stack", "nosuch", "--backend",
                    f"file://{tmp_path}", "--json")  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "no stack 'nosuch'" in json.loads(result.stdout)["error"]
    assert not list(tmp_path.rglob("nosuch*"))


# --- connection errors -------------------------------------------------------------------------------------


def test_a_wrong_context_is_a_usage_error(kube: ControlPlane, deployed: Cluster) -> None:
    result = status("--kubeconfig", str(kube.kubeconfig), "--context", "aipair-tset", "--json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert "no context 'aipair-tset'" in error and "did you mean 'aipair-test'" in error


def _kubeconfig_copy(kube: ControlPlane, tmp_path: Path, **changes: str) -> Path:
    document = yaml.safe_load(kube.kubeconfig.read_text())
    if "server" in changes:
        document["clusters"][0]["cluster"]["server"] = changes["server"]
    if "token" in changes:
        document["users"][0]["user"]["token"] = changes["token"]
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(document))
    return path


def test_a_closed_port_is_unavailable(kube: ControlPlane, tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on once this socket is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = _kubeconfig_copy(kube, tmp_path, server=f"https://127.0.0.1:{port}")
    started = time.monotonic()
    result = status("--kubeconfig", str(config), "--json")
    assert time.monotonic() - started < 20
    assert result.exit_code == 3
    error = json.loads(result.stdout)["error"]
    assert f"https://127.0.0.1:{port}" in error and "cannot be reached" in error
    plain = status("--kubeconfig", str(config))
    assert plain.exit_code == 3 and "cannot be reached" in plain.stderr


def test_a_wrong_token_is_unavailable(kube: ControlPlane, tmp_path: Path) -> None:
    config = _kubeconfig_copy(kube, tmp_path, token="not-the-token")
    result = status("--kubeconfig", str(config), "--json")
    assert result.exit_code == 3
    error = json.loads(result.stdout)["error"]
    assert "401" in error and "credentials" in error
    assert "not-the-token" not in result.stdout


def test_credentials_without_rights_are_told_what_they_need(
    kube: ControlPlane, deployed: Cluster, tmp_path: Path
) -> None:
    """A real service account (its token from the TokenRequest API) with no RBAC binding: 403."""
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "status-reader", "namespace": NAMESPACE},
    }
    deployed.apply(account)
    answer = deployed.http.post(
        f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/status-reader/token",
        json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 600}},
    )
    assert answer.status_code == 201, answer.text
    config = _kubeconfig_copy(kube, tmp_path, token=answer.json()["status"]["token"])
    result = status("--kubeconfig", str(config), "--json")
    assert result.exit_code == 3
    error = json.loads(result.stdout)["error"]
    assert "403" in error and f"namespace {NAMESPACE}" in error and "get/list" in error


def test_a_missing_namespace_is_said(kube: ControlPlane) -> None:
    with pytest.raises(UsageError, match="namespace 'not-deployed' does not exist"):
        engine.read_namespace(kube.kubeconfig, None, "not-deployed")


def test_no_kubeconfig_says_how_to_point_at_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    result = status("--json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert "no kubeconfig found" in error and "--kubeconfig" in error and "KUBECONFIG" in error
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")]))
    error = json.loads(status("--json").stdout)["error"]
    assert str(tmp_path / "a") in error and str(tmp_path / "b") in error
