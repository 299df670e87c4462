"""The Pulumi program under pulumi.runtime.set_mocks: the boundary that cannot run here is the Pulumi
engine plus the Kubernetes provider (the Go module proxy refuses the provider's module), so the
program runs against Pulumi's own mock monitor, and what it would send is checked for real."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import kubernetes_validate
import pulumi
import pytest
import yaml

from aipair.catalog import load_catalog
from aipair.render.kubernetes import render_kubernetes

from ..helpers.paths import DEFAULT_CATALOG, ROOT


class RecordingMocks(pulumi.runtime.Mocks):
    """Pulumi's documented test double for the engine: records what each resource would receive."""

    def __init__(self) -> None:
        self.created: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.created.append(args)
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        return {}


SECRET_SIG = "4dabf18193072939515e22adb298388d"  # Pulumi's wire marker for a secret value


def _numbers(value: Any) -> Any:
    """Inputs travel as protobuf Structs: every number is a double (3.0 → 3) and secrets are wrapped."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return _numbers(value["value"])
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def _run(catalog_path: Path, extra_config: dict[str, str] | None = None) -> list[pulumi.runtime.MockResourceArgs]:
    from aipair.engines.pulumi_program import build

    catalog = load_catalog(catalog_path)
    # Pulumi's mocks use the thread's current event loop; an earlier asyncio.run() in this process leaves none.
    asyncio.set_event_loop(asyncio.new_event_loop())
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="aipair", stack="test", preview=False)
    config = {f"aipair:{name}": f"value-of-{name}" for name in catalog.secrets_for("scale")}
    pulumi.runtime.set_all_config({**config, **(extra_config or {})}, secret_keys=list(config))

    @pulumi.runtime.test
    def program() -> Any:
        resources = build(catalog, config=pulumi.Config("aipair"))
        return pulumi.Output.all(*[r.urn for r in resources.values()])

    program()
    return mocks.created


@pytest.fixture(scope="module")
def created() -> list[pulumi.runtime.MockResourceArgs]:
    return _run(DEFAULT_CATALOG)


def _k8s(created: list[pulumi.runtime.MockResourceArgs]) -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for args in created:
        if args.typ.startswith("kubernetes:") and "helm" not in args.typ and args.typ != "pulumi:providers:kubernetes":
            inputs = _numbers(dict(args.inputs))
            out[(inputs["kind"], inputs["metadata"]["name"])] = inputs
    return out


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
    made = _k8s(created)
    assert set(made) - {("Secret", "aipair-secrets")} == set(rendered)
    for key, obj in rendered.items():
        assert made[key] == obj, key


def test_every_expected_resource_with_its_settings(created: list[pulumi.runtime.MockResourceArgs]) -> None:
    made = _k8s(created)
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
    assert kestra["resources"]["limits"] == {"cpu": "1000m", "memory": "2Gi"}
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
    for (kind, name), obj in _k8s(created).items():
        for version in ("1.29", "1.33"):
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{kind}/{name} for {version}: {exc.message}")


def test_skip_await_and_monitoring_switches() -> None:
    created = _run(ROOT / "examples" / "gestasai.yaml", {"aipair:skipAwait": "true", "aipair:monitoring": "false"})
    made = _k8s(created)
    assert not [a for a in created if "helm" in a.typ]
    assert made[("Deployment", "gateway")]["metadata"]["annotations"] == {"pulumi.com/skipAwait": "true"}
    assert made[("Namespace", "gestasai")]["metadata"]["annotations"] == {"pulumi.com/skipAwait": "true"}
