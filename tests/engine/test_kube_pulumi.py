"""What the Pulumi program would send to the Kubernetes provider, applied to a real API server.

The provider itself cannot be obtained here (the Go module proxy refuses github.com/pulumi/pulumi-kubernetes/
provider/v4), so the objects come from Pulumi's mock monitor (tests/helpers/pulumi_mocks.py, the double at that
boundary) and go to the real server (tests/helpers/kube.py) by server-side apply with strict validation, under
the provider's field-manager name. Then `kubectl apply --server-side` of the k8s/ files meets them: no conflict.
"""

from __future__ import annotations

import base64
from typing import Any

from ..helpers.kube import Cluster, ControlPlane, missing_or_changed
from ..helpers.paths import DEFAULT_CATALOG, ROOT
from ..helpers.pulumi_mocks import kubernetes_inputs, run_program

PULUMI_MANAGER = "pulumi-kubernetes"  # the provider's server-side apply field manager (its prefix)
NAMESPACE = "aipair"


def _ordered(objects: dict[tuple[str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(objects.values(), key=lambda o: o["kind"] != "Namespace")


def test_the_pulumi_programs_objects_are_accepted_and_meet_kubectl_without_conflict(kube: ControlPlane) -> None:
    cluster = Cluster(kube)
    sent = _ordered(kubernetes_inputs(run_program(DEFAULT_CATALOG)))
    assert {o["kind"] for o in sent} >= {"Namespace", "Secret", "Deployment", "StatefulSet", "Job", "Ingress"}
    stored = {}
    for obj in sent:
        applied = cluster.apply(obj, manager=PULUMI_MANAGER)
        assert applied.warnings == (), f"{obj['kind']}/{obj['metadata']['name']}"
        stored[(obj["kind"], obj["metadata"]["name"])] = applied.live
    for obj in sent:
        live = stored[(obj["kind"], obj["metadata"]["name"])]
        if obj["kind"] == "Secret":  # stringData is write-only: the server keeps it as base64 data
            assert {k: base64.b64decode(v).decode() for k, v in live["data"].items()} == obj["stringData"]
            continue
        assert missing_or_changed(obj, live) == [], obj["metadata"]["name"]
    result = kube.kubectl("apply", "--server-side", "-k", str(ROOT / "k8s"), check=False)
    assert result.returncode == 0, result.stderr
    assert "conflict" not in result.stderr.lower()
    # kubectl applied the same objects: each is now co-owned, and its fields did not move
    deployment = cluster.get(
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app-api", "namespace": NAMESPACE}}
    )
    assert deployment is not None
    managers = {entry["manager"] for entry in deployment["metadata"]["managedFields"] if entry["operation"] == "Apply"}
    assert {PULUMI_MANAGER, "kubectl"} <= managers
