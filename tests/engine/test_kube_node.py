"""Rendered workloads running on a real node (tests/helpers/kube_node.py: a kubelet, Debian's containerd and
CNI plugins): a Deployment of the mock image becomes available through its rendered readiness probe, a Job
runs to completion, and a public image that cannot be pulled here shows the kubelet's real ImagePullBackOff.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aipair.render.mock import MOCK_IMAGE

from ..helpers.catalogs import write
from ..helpers.commands import cli
from ..helpers.kube import Cluster, ControlPlane, rendered, wait_until
from ..helpers.kube_node import TOLERATION, Node

NAMESPACE = "aipair-node-test"
RUNNABLE_NAMESPACE = "aipair-node-runnable"
RUN_TIMEOUT = 120.0
UNPULLABLE = "registry.invalid/aipair/api:1.0.0"


def node_catalog(namespace: str = NAMESPACE, only: tuple[str, ...] = ()) -> dict[str, Any]:
    catalog = {
        "version": 1,
        "project": {
            "name": namespace,
            "namespace": namespace,
            "domain": "nodetest.example.com",
            "tls": {"acme_email": "ops@nodetest.example.com"},
        },
        "services": {
            "web": {
                "layer": "application",
                "phases": ["scale"],
                "image": MOCK_IMAGE,
                "runs_as_root": True,  # the mock image has no user of its own
                "command": ["8000", "/healthz"],  # the mock's serve script: ports, then paths
                "ports": [{"name": "http", "port": 8000}],
                "health": {"type": "http", "port": 8000, "path": "/healthz", "interval": "2s", "probe": "wget"},
                "scale": {"replicas": 1, "autoscale": False},
                "resources": {"cpus": 0.1, "memory": "64Mi"},
            },
            "api": {
                "layer": "application",
                "phases": ["scale"],
                "image": UNPULLABLE,
                "ports": [{"name": "http", "port": 8080}],
                "health": {"type": "http", "port": 8080, "path": "/healthz", "probe": "wget"},
                "scale": {"replicas": 1, "autoscale": False},
                "resources": {"cpus": 0.1, "memory": "64Mi"},
            },
            "migrate": {
                "layer": "application",
                "phases": ["scale"],
                "kind": "job",
                "image": MOCK_IMAGE,
                "runs_as_root": True,
                "command": ["job"],
                "resources": {"cpus": 0.1, "memory": "64Mi"},
            },
        },
    }
    if only:
        catalog["services"] = {name: svc for name, svc in catalog["services"].items() if name in only}
    return catalog


def tolerating(obj: dict[str, Any]) -> dict[str, Any]:
    """The test places the pods on its tainted node; nothing else of the rendered object changes."""
    template = (obj.get("spec") or {}).get("template")
    if template:
        template["spec"]["tolerations"] = [TOLERATION]
    return obj


def _until(what: str, check: Callable[[], Any], cluster: Cluster) -> Any:
    def explain() -> str:
        pods = [(p["metadata"]["name"], p["status"]) for p in cluster.list(f"/api/v1/namespaces/{NAMESPACE}/pods")]
        events = [
            (e["involvedObject"]["name"], e["reason"], e["message"])
            for e in cluster.list(f"/api/v1/namespaces/{NAMESPACE}/events")
        ]
        return f"pods: {pods}\nevents: {events}"

    return wait_until(what, check, timeout=RUN_TIMEOUT, explain=explain)


def _deploy(cluster: Cluster, path: Path) -> None:
    for obj in rendered(path):
        cluster.apply(tolerating(obj))


@pytest.fixture(scope="module")
def catalogs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The whole node catalog (one service cannot pull its image), and one whose services can all run."""
    return {
        "all": write(tmp_path_factory.mktemp("node-all"), node_catalog()),
        "runnable": write(tmp_path_factory.mktemp("node-ok"), node_catalog(RUNNABLE_NAMESPACE, ("web", "migrate"))),
    }


@pytest.fixture(scope="module")
def deployed(kube: ControlPlane, kube_node: Node, catalogs: dict[str, Path]) -> Cluster:
    cluster = Cluster(kube)
    for path in catalogs.values():
        _deploy(cluster, path)
    return cluster


def _get(cluster: Cluster, kind: str, name: str) -> dict[str, Any]:
    version = {"Deployment": "apps/v1", "Job": "batch/v1"}[kind]
    found = cluster.get({"apiVersion": version, "kind": kind, "metadata": {"name": name, "namespace": NAMESPACE}})
    assert found is not None
    return found


def test_a_deployment_of_the_mock_image_becomes_available_through_its_probe(deployed: Cluster) -> None:
    status = _until(
        "web available",
        lambda: (s := _get(deployed, "Deployment", "web").get("status", {})).get("availableReplicas") == 1 and s,
        deployed,
    )
    assert status["readyReplicas"] == 1
    pods = deployed.list(f"/api/v1/namespaces/{NAMESPACE}/pods", labelSelector="app.kubernetes.io/name=web")
    assert [p["status"]["phase"] for p in pods] == ["Running"]
    assert pods[0]["spec"]["nodeName"] == "aipair-test-node"


def test_a_job_runs_to_completion(deployed: Cluster) -> None:
    status = _until(
        "migrate succeeded",
        lambda: (s := _get(deployed, "Job", "migrate").get("status", {})).get("succeeded") and s,
        deployed,
    )
    assert status["succeeded"] == 1


def test_an_image_that_cannot_be_pulled_shows_the_kubelets_reason(deployed: Cluster) -> None:
    def waiting() -> str | None:
        pods = deployed.list(f"/api/v1/namespaces/{NAMESPACE}/pods", labelSelector="app.kubernetes.io/name=api")
        for pod in pods:
            for container in pod["status"].get("containerStatuses") or []:
                reason = (container.get("state", {}).get("waiting") or {}).get("reason")
                if reason in ("ErrImagePull", "ImagePullBackOff"):
                    return str(reason)
        return None

    assert _until("api waiting on its image", waiting, deployed) in ("ErrImagePull", "ImagePullBackOff")


def _status(kube: ControlPlane, catalog: Path) -> tuple[int, dict[str, Any]]:
    result = cli(
        "status", "--phase", "scale", "--catalog", str(catalog), "--kubeconfig", str(kube.kubeconfig), "--json"
    )
    return result.exit_code, json.loads(result.stdout)


def test_status_says_ready_when_everything_runs(
    deployed: Cluster, kube: ControlPlane, catalogs: dict[str, Path]
) -> None:
    def ready() -> tuple[int, dict[str, Any]] | None:
        code, doc = _status(kube, catalogs["runnable"])
        return (code, doc) if code == 0 else None

    code, doc = _until("status of the runnable catalog to say ok", ready, deployed)
    assert doc["ok"] is True and doc["pods_not_ready"] == []
    rows = {(w["kind"], w["name"]): w for w in doc["workloads"]}
    assert set(rows) == {("Deployment", "web"), ("Job", "migrate")}
    assert all(w["ok"] for w in rows.values())


def test_status_shows_the_kubelets_own_reason_for_an_image_it_cannot_pull(
    deployed: Cluster, kube: ControlPlane, catalogs: dict[str, Path]
) -> None:
    def pulled_or_failed() -> tuple[int, dict[str, Any]] | None:
        code, doc = _status(kube, catalogs["all"])
        web = next(w for w in doc["workloads"] if w["name"] == "web")
        api = [p for p in doc["pods_not_ready"] if p["workload"] == "Deployment/api"]
        settled = web["ok"] and api and api[0]["reason"] in ("ErrImagePull", "ImagePullBackOff")
        return (code, doc) if settled else None

    code, doc = _until("status to show web ready and api waiting on its image", pulled_or_failed, deployed)
    assert code == 1 and doc["ok"] is False
    api = next(p for p in doc["pods_not_ready"] if p["workload"] == "Deployment/api")
    assert UNPULLABLE in api["message"]
