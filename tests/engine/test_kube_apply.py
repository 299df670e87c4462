"""Phase 2 on a real Kubernetes API server (tests/helpers/kube.py: etcd, kube-apiserver, controller manager and
scheduler built from the Go module proxy; no kubelet, so pods stay Pending).

Every object rendered for the default catalog and both examples is applied with server-side apply and strict
field validation: a dry run first, then for real, with no error and no warning (Pod Security `warn` at the
catalog's level included, `audit` read from the audit log); a second apply changes nothing; another field
manager applying the same objects meets no conflict; the server stores every field we render as we render it;
the controllers give every Deployment its ReplicaSet and Pods; a changed Job is refused as the report says.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from aipair.catalog import load_catalog
from aipair.render.kubernetes import render_kubernetes

from ..helpers.kube import Applied, ApplyError, Cluster, ControlPlane, missing_or_changed, rendered, wait_until
from ..helpers.paths import CATALOGS

SETTLE_TIMEOUT = 60.0
OTHER_MANAGER = "kubectl"  # what `kubectl apply --server-side` calls itself


def _key(obj: dict[str, Any]) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def test_the_comparison_can_fail() -> None:
    assert missing_or_changed({"cpu": "1000m"}, {"cpu": "1"}) == [".cpu: rendered '1000m', stored '1'"]
    assert missing_or_changed({"a": [1, 2]}, {"a": [1]})
    assert not missing_or_changed({"a": {"b": 1}}, {"a": {"b": 1, "c": 2}})


class Applies:
    """The first and second applies of one catalog, kept for the tests below."""

    def __init__(self, cluster: Cluster, objects: list[dict[str, Any]]) -> None:
        self.objects = objects
        namespace, rest = objects[0], objects[1:]
        assert namespace["kind"] == "Namespace"
        self.dry_run: dict[str, Applied] = {_key(namespace): cluster.apply(namespace, dry_run=True)}
        self.first: dict[str, Applied] = {_key(namespace): cluster.apply(namespace)}
        self.dry_run |= {_key(obj): cluster.apply(obj, dry_run=True) for obj in rest}
        self.first |= {_key(obj): cluster.apply(obj) for obj in rest}
        self.second = {_key(obj): cluster.apply(obj) for obj in objects}


@pytest.fixture(scope="module")
def cluster(kube: ControlPlane) -> Iterator[Cluster]:
    yield Cluster(kube)


@pytest.fixture(scope="module", params=CATALOGS, ids=lambda p: p.stem)
def applies(request: pytest.FixtureRequest, cluster: Cluster) -> Applies:
    return Applies(cluster, rendered(request.param))


def test_dry_run_and_apply_are_strict_and_silent(applies: Applies) -> None:
    assert len(applies.objects) > 20
    for key in applies.first:
        assert applies.dry_run[key].warnings == (), key
        assert applies.first[key].warnings == (), key


def _our_entry(live: dict[str, Any], manager: str = "aipair") -> dict[str, Any]:
    return next(e for e in live["metadata"]["managedFields"] if e["manager"] == manager and e["operation"] == "Apply")


def test_a_second_apply_changes_nothing(applies: Applies) -> None:
    """A no-op apply writes nothing: the spec's generation and our field manager's entry (with its time) stay.
    (The resourceVersion alone cannot tell: the controllers update the workloads' status meanwhile.)"""
    changed = []
    for key, first in applies.first.items():
        before, after = first.live, applies.second[key].live
        same_spec = before["metadata"].get("generation") == after["metadata"].get("generation")
        same_apply = _our_entry(before) == _our_entry(after)
        no_status = "status" not in before
        same_version = before["metadata"]["resourceVersion"] == after["metadata"]["resourceVersion"]
        if not (same_spec and same_apply) or (no_status and not same_version):
            changed.append(key)
    assert changed == []


def test_the_server_stores_every_field_as_rendered(applies: Applies) -> None:
    problems = {
        _key(obj): found
        for obj in applies.objects
        if (found := missing_or_changed(obj, applies.second[_key(obj)].live))
    }
    assert problems == {}


def test_another_field_manager_applying_the_same_objects_meets_no_conflict(applies: Applies, cluster: Cluster) -> None:
    conflicts = []
    for obj in applies.objects:
        try:
            cluster.apply(obj, manager=OTHER_MANAGER)
        except ApplyError as exc:
            conflicts.append(str(exc))
    assert conflicts == []


def test_pod_security_audit_finds_nothing(applies: Applies, kube: ControlPlane) -> None:
    namespace = applies.objects[0]["metadata"]["name"]
    labels = applies.objects[0]["metadata"]["labels"]
    level = labels["pod-security.kubernetes.io/enforce"]
    assert labels["pod-security.kubernetes.io/warn"] == level
    assert labels["pod-security.kubernetes.io/audit"] == level
    violations = [
        (uri, value)
        for uri, value in kube.audit_annotations("pod-security.kubernetes.io/audit-violations")
        if f"/namespaces/{namespace}/" in uri
    ]
    assert violations == []


def _wait_for(what: str, check: Any) -> Any:
    return wait_until(what, check, timeout=SETTLE_TIMEOUT)


def test_every_deployment_gets_its_replica_set_and_pending_pods(applies: Applies, cluster: Cluster) -> None:
    deployments = [o for o in applies.objects if o["kind"] == "Deployment"]
    assert deployments
    namespace = applies.objects[0]["metadata"]["name"]
    for deployment in deployments:
        name = deployment["metadata"]["name"]
        selector = f"app.kubernetes.io/name={name}"
        sets = _wait_for(
            f"a ReplicaSet for {name}",
            lambda s=selector: cluster.list(f"/apis/apps/v1/namespaces/{namespace}/replicasets", labelSelector=s),
        )
        assert [s["metadata"]["ownerReferences"][0]["name"] for s in sets] == [name]
        want = deployment["spec"]["replicas"]
        pods = _wait_for(
            f"{want} pods for {name}",
            lambda s=selector, w=want: (
                (p := cluster.list(f"/api/v1/namespaces/{namespace}/pods", labelSelector=s)) and len(p) == w and p
            ),
        )
        assert {p["status"]["phase"] for p in pods} == {"Pending"}  # no node: nothing runs


def test_the_kinds_we_render_are_all_stored(applies: Applies) -> None:
    kinds = {obj["kind"] for obj in applies.objects}
    assert {"Deployment", "Service", "NetworkPolicy", "PodDisruptionBudget", "Namespace"} <= kinds
    for obj in applies.objects:
        assert applies.second[_key(obj)].live["kind"] == obj["kind"]


def test_the_default_catalog_covers_every_kind_the_issue_names() -> None:
    """So that test_the_server_stores_every_field_as_rendered sees each of them on the real server."""
    objects = rendered(CATALOGS[0])
    kinds = {o["kind"] for o in objects}
    assert {"HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "Ingress", "Job", "StatefulSet"} <= kinds
    assert any(o["kind"] == "Service" and o["spec"]["type"] == "ExternalName" for o in objects)


def test_quantities_are_rendered_as_the_server_stores_them(cluster: Cluster) -> None:
    """Every millicore count and binary size the catalog can express, through the server's own Quantity."""
    from aipair.render import quantities

    millicores = [1, 10, 250, 999, 1000, 1001, 1500, 2000, 64000, 12345]
    sizes = ["1Ki", "1023Ki", "1024Ki", "512Mi", "1024Mi", "1536Mi", "2048Mi", "1048576Ki", "3072Gi", "1Ti", "5120Ti"]
    containers = [
        {"name": f"c{i}", "image": "registry.invalid/x:1", "resources": {"limits": {"cpu": f"{m}m", "memory": size}}}
        for i, (m, size) in enumerate(zip(millicores + millicores[:1], sizes, strict=True))
    ]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "quantities", "namespace": "default"},
        "spec": {"containers": containers},
    }
    stored = cluster.apply(pod, dry_run=True).live["spec"]["containers"]  # type: ignore[index]
    assert [c["resources"]["limits"]["cpu"] for c in stored] == [quantities.cpu(m) for m in millicores + millicores[:1]]
    assert [c["resources"]["limits"]["memory"] for c in stored] == [quantities.binary(s) for s in sizes]


def test_a_changed_job_is_refused_until_the_old_one_is_deleted_as_the_report_says(cluster: Cluster) -> None:
    """Jobs are immutable: the report tells the user to delete a finished Job before applying a changed one."""
    groups, notes = render_kubernetes(load_catalog(CATALOGS[0]))
    job_note = next(n for n in notes if n.topic == "jobs")
    job = next(o for objects in groups.values() for o in objects if o["kind"] == "Job")
    assert job["metadata"]["name"] in job_note.message and "delete" in job_note.message
    cluster.apply(groups["namespace"][0])
    job = copy.deepcopy(job)
    job["metadata"]["name"] += "-probe"  # its own Job: the catalog's stays as the other tests applied it
    cluster.apply(job)
    changed = copy.deepcopy(job)
    changed["spec"]["template"]["spec"]["containers"][0].setdefault("env", []).append(
        {"name": "AIPAIR_CHANGED", "value": "1"}
    )
    with pytest.raises(ApplyError) as refused:
        cluster.apply(changed)
    assert refused.value.status == 422 and "field is immutable" in refused.value.body
    cluster.delete(job, propagation="Background")
    _wait_for("the old Job to be gone", lambda: cluster.get(job) is None)
    applied = cluster.apply(changed)
    assert applied.live["spec"]["template"]["spec"]["containers"][0]["env"][-1] == {
        "name": "AIPAIR_CHANGED",
        "value": "1",
    }
