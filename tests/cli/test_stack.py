"""The Pulumi program under pulumi.runtime.set_mocks: the boundary that cannot run here is the Pulumi
engine plus the Kubernetes provider (the Go module proxy refuses the provider's module), so the
program runs against Pulumi's own mock monitor, and what it would send is checked for real."""

from __future__ import annotations

import pulumi
import pytest
import yaml

from aipair.catalog import load_catalog
from aipair.render.kubernetes import render_kubernetes

from ..helpers.kube_schemas import ValidationError, validate_strict
from ..helpers.paths import DEFAULT_CATALOG, ROOT
from ..helpers.pulumi_mocks import SECRET_SIG, kubernetes_inputs, run_program


@pytest.fixture(scope="module")
def created() -> list[pulumi.runtime.MockResourceArgs]:
    return run_program(DEFAULT_CATALOG)


def test_pulumi_creates_the_same_objects_as_the_k8s_files(created: list[pulumi.runtime.MockResourceArgs]) -> None:
    groups, _ = render_kubernetes(load_catalog(DEFAULT_CATALOG))
    rendered = {(o["kind"], o["metadata"]["name"]): o for objects in groups.values() for o in objects}
    files = {
        (o["kind"], o["metadata"]["name"]): o
        for path in sorted((ROOT / "k8s").glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for o in yaml.safe_load_all(path.read_text())
        if o
    }
    assert files == rendered, "the committed k8s/ files are the renderer's objects"
    made = kubernetes_inputs(created)
    assert set(made) - {("Secret", "aipair-secrets")} == set(rendered)
    for key, obj in rendered.items():
        assert made[key] == obj, key


def test_every_expected_resource_with_its_settings(created: list[pulumi.runtime.MockResourceArgs]) -> None:
    made = kubernetes_inputs(created)
    kinds = {kind for kind, _ in made}
    assert kinds >= {
        "Namespace",
        "Deployment",
        "StatefulSet",
        "Job",
        "Service",
        "Ingress",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "ConfigMap",
        "Secret",
    }
    assert all(obj["metadata"].get("namespace") == "aipair" for (kind, _), obj in made.items() if kind != "Namespace")
    kestra = made[("Deployment", "kestra")]["spec"]["template"]["spec"]["containers"][0]
    assert kestra["readinessProbe"]["httpGet"] == {"path": "/health", "port": "management"}
    assert kestra["resources"]["limits"] == {"cpu": "1", "memory": "2Gi"}
    hpa = made[("HorizontalPodAutoscaler", "app-api")]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 10)
    policy = made[("NetworkPolicy", "qdrant")]["spec"]
    assert [peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for peer in policy["ingress"][0]["from"]] == [
        "app-api"
    ]
    secret = made[("Secret", "aipair-secrets")]
    assert set(secret["stringData"]) == set(load_catalog(DEFAULT_CATALOG).secrets_for("scale"))
    assert secret["stringData"]["QDRANT_API_KEY"] == "value-of-QDRANT_API_KEY"  # from the stack's config
    raw = next(a for a in created if a.typ == "kubernetes:core/v1:Secret").inputs["stringData"]
    assert SECRET_SIG in raw, "the values travel as Pulumi secrets (encrypted in state)"
    providers = [a for a in created if a.typ == "pulumi:providers:kubernetes"]
    assert len(providers) == 1
    helm = [a for a in created if a.typ == "kubernetes:helm.sh/v3:Release"]
    assert len(helm) == 1 and helm[0].inputs["chart"] == "kube-prometheus-stack"
    assert helm[0].inputs["namespace"] == "monitoring"


def test_mocked_inputs_pass_strict_kubernetes_schemas(created: list[pulumi.runtime.MockResourceArgs]) -> None:
    for (kind, name), obj in kubernetes_inputs(created).items():
        for version in ("1.29", "1.33"):
            try:
                validate_strict(obj, version)
            except ValidationError as exc:
                pytest.fail(f"{kind}/{name} for {version}: {exc.message}")


def test_skip_await_and_monitoring_switches() -> None:
    created = run_program(
        ROOT / "examples" / "gestasai.yaml", {"aipair:skipAwait": "true", "aipair:monitoring": "false"}
    )
    made = kubernetes_inputs(created)
    assert not [a for a in created if "helm" in a.typ]
    assert made[("Deployment", "gateway")]["metadata"]["annotations"] == {"pulumi.com/skipAwait": "true"}
    assert made[("Namespace", "gestasai")]["metadata"]["annotations"] == {"pulumi.com/skipAwait": "true"}
