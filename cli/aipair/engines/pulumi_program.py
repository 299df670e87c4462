"""The phase-2 Pulumi program: pulumi-kubernetes resources built from render_kubernetes' objects.

The objects are the ones k8s/ holds, unchanged; Pulumi adds what plain manifests must not carry:
the Secret with the values (from the stack's encrypted config), the provider (kubeconfig and
context from config), monitoring (kube-prometheus-stack through Helm) and exported endpoints.
Used by stacks/__main__.py (the CLI) and by the Automation API (inline program).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from ..catalog import load_catalog
from ..catalog.model import Catalog
from ..render.kubernetes import render_kubernetes
from ..render.names import base_labels, secret_name

# kube-prometheus-stack: Prometheus (discovers the prometheus.io/* annotations) and Grafana.
MONITORING_CHART = "kube-prometheus-stack"
MONITORING_CHART_VERSION = "65.5.1"
MONITORING_REPO = "https://prometheus-community.github.io/helm-charts"

KINDS: dict[str, Any] = {
    "Namespace": k8s.core.v1.Namespace,
    "ConfigMap": k8s.core.v1.ConfigMap,
    "Service": k8s.core.v1.Service,
    "PersistentVolumeClaim": k8s.core.v1.PersistentVolumeClaim,
    "Deployment": k8s.apps.v1.Deployment,
    "StatefulSet": k8s.apps.v1.StatefulSet,
    "Job": k8s.batch.v1.Job,
    "HorizontalPodAutoscaler": k8s.autoscaling.v2.HorizontalPodAutoscaler,
    "PodDisruptionBudget": k8s.policy.v1.PodDisruptionBudget,
    "NetworkPolicy": k8s.networking.v1.NetworkPolicy,
    "Ingress": k8s.networking.v1.Ingress,
}


def resource_name(obj: dict[str, Any]) -> str:
    return f"{obj['kind'].lower()}-{obj['metadata']['name']}"


def build(catalog: Catalog, *, config: pulumi.Config | None = None) -> dict[str, Any]:
    """Declare every resource of the catalog's phase 2; returns them by Pulumi resource name."""
    config = config or pulumi.Config("aipair")
    provider = k8s.Provider(
        "kubernetes", kubeconfig=config.get("kubeconfig"), context=config.get("context"), enable_server_side_apply=True
    )
    skip_await = config.get_bool("skipAwait") or False
    groups, _ = render_kubernetes(catalog)
    objects = [obj for stem in groups for obj in groups[stem]]
    namespace_obj = next(o for o in objects if o["kind"] == "Namespace")
    resources: dict[str, Any] = {}
    namespace = _declare(namespace_obj, provider, skip_await, [])
    resources[resource_name(namespace_obj)] = namespace

    # Values come from the stack's encrypted config (aipair deploy generates missing ones on first use).
    names = catalog.secrets_for("scale")
    secret = k8s.core.v1.Secret(
        "secret-" + secret_name(catalog),
        metadata={"name": secret_name(catalog), "namespace": catalog.project.namespace, "labels": base_labels(catalog)},
        string_data={name: config.require_secret(name) for name in names},
        type="Opaque",
        opts=pulumi.ResourceOptions(provider=provider, depends_on=[namespace]),
    )
    resources[f"secret-{secret_name(catalog)}"] = secret
    for obj in objects:
        if obj is namespace_obj:
            continue
        resources[resource_name(obj)] = _declare(obj, provider, skip_await, [namespace, secret])

    if config.get_bool("monitoring") is not False:
        resources["helm-monitoring"] = k8s.helm.v3.Release(
            "monitoring",
            name="monitoring",
            chart=MONITORING_CHART,
            version=MONITORING_CHART_VERSION,
            repository_opts={"repo": MONITORING_REPO},
            namespace=catalog.project.kubernetes.monitoring_namespace,
            create_namespace=True,
            values={
                "grafana": {"enabled": True},
                "prometheus": {
                    "prometheusSpec": {
                        "podMonitorSelectorNilUsesHelmValues": False,
                        "serviceMonitorSelectorNilUsesHelmValues": False,
                    }
                },
            },
            skip_await=skip_await,
            opts=pulumi.ResourceOptions(provider=provider),
        )
    endpoints = sorted(
        {
            f"https://{rule['host']}{path['path']}"
            for obj in objects
            if obj["kind"] == "Ingress"
            for rule in obj["spec"]["rules"]
            for path in rule["http"]["paths"]
        }
    )
    pulumi.export("namespace", catalog.project.namespace)
    pulumi.export("endpoints", endpoints)
    return resources


def _declare(obj: dict[str, Any], provider: Any, skip_await: bool, depends_on: list[Any]) -> Any:
    cls = KINDS[obj["kind"]]
    metadata = copy.deepcopy(obj["metadata"])
    if skip_await:  # for clusters without a kubelet (tests), where nothing would ever become ready
        metadata.setdefault("annotations", {})["pulumi.com/skipAwait"] = "true"
    fields = {key: value for key, value in obj.items() if key not in ("apiVersion", "kind", "metadata")}
    return cls(
        resource_name(obj),
        metadata=metadata,
        **fields,
        opts=pulumi.ResourceOptions(provider=provider, depends_on=depends_on),
    )


def main(catalog_path: str | Path | None = None) -> None:
    """Entry point of stacks/__main__.py: the catalog comes from config `aipair:catalog` or ../catalog.yaml."""
    config = pulumi.Config("aipair")
    path = Path(catalog_path or config.get("catalog") or Path.cwd().parent / "catalog.yaml")
    build(load_catalog(path), config=config)
