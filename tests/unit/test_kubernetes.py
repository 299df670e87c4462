"""Phase 2 manifests as objects: NetworkPolicy semantics, probes, scaling, secrets (pure; the strict
Kubernetes schemas and `aipair render --phase scale` are in tests/cli/test_kubernetes.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aipair.catalog import load_catalog
from aipair.catalog.model import Catalog
from aipair.render.databases import with_init_jobs
from aipair.render.kubernetes import render_kubernetes

from ..helpers.paths import CATALOGS, DEFAULT_CATALOG, ROOT


def _objects(catalog: Catalog) -> list[dict[str, Any]]:
    groups, _ = render_kubernetes(catalog)
    return [obj for objects in groups.values() for obj in objects]


# --- NetworkPolicy semantics, evaluated from the rendered policies only ------------------------


def _selects(selector: dict[str, Any], pod_labels: dict[str, str]) -> bool:
    return all(pod_labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def _allowed(
    policies: list[dict[str, Any]],
    pod: dict[str, str],
    direction: str,
    peer: dict[str, str] | None,
    port: int,
    port_names: dict[str, int],
) -> bool:
    """Kubernetes semantics: if no policy of this direction selects the pod, all is allowed; else the
    union of the rules of the policies that select it must allow the peer (None: outside the cluster)."""
    selecting = [
        p
        for p in policies
        if _selects(p["spec"]["podSelector"], pod) and direction.capitalize() in p["spec"]["policyTypes"]
    ]
    if not selecting:
        return True
    key, peers_key = (direction, "from" if direction == "ingress" else "to")
    for policy in selecting:
        for rule in policy["spec"].get(key, []):
            ports = rule.get("ports")
            if ports and not any(port_names.get(p["port"], p["port"]) == port for p in ports):
                continue
            for other in rule.get(peers_key, [{}]):
                if (
                    "podSelector" in other
                    and "namespaceSelector" not in other
                    and peer is not None
                    and _selects(other["podSelector"], peer)
                ):
                    return True
                if "ipBlock" in other and peer is None:
                    return True
    return False


def _reachability(objects: list[dict[str, Any]]) -> dict[str, set[str]]:
    """For each workload, the services whose pods it may open a connection to (any of their ports)."""
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    pods = {
        o["metadata"]["name"]: (o["spec"]["template"]["metadata"]["labels"], o["spec"]["template"]["spec"])
        for o in objects
        if o["kind"] in ("Deployment", "StatefulSet", "Job")
    }
    reach: dict[str, set[str]] = {name: set() for name in pods}
    for source, (source_labels, _) in pods.items():
        for target, (target_labels, target_spec) in pods.items():
            ports = {p["name"]: p["containerPort"] for c in target_spec["containers"] for p in c.get("ports", [])}
            if source == target or not ports:
                continue
            if any(
                _allowed(policies, source_labels, "egress", target_labels, number, ports)
                and _allowed(policies, target_labels, "ingress", source_labels, number, ports)
                for number in ports.values()
            ):
                reach[source].add(target)
    return reach


@pytest.mark.parametrize("catalog_path", CATALOGS, ids=lambda p: p.stem)
def test_each_pod_reaches_exactly_its_dependencies(catalog_path: Path) -> None:
    catalog = with_init_jobs(load_catalog(catalog_path))  # declared databases bring their init job
    objects = _objects(catalog)
    services = catalog.in_phase("scale")
    reach = _reachability(objects)
    for name, reachable in reach.items():
        expected = {d for d in services[name].depends_on if services[d].ports and services[d].scale.managed is None}
        assert reachable == expected, name
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    for name, svc in services.items():  # managed dependencies are outside: egress to them, on their port only
        for dep in svc.depends_on:
            managed = services[dep].scale.managed
            if managed and name in reach:
                port = managed.port or services[dep].ports[0].port
                labels = next(
                    o
                    for o in objects
                    if o["metadata"]["name"] == name and o["kind"] in ("Deployment", "StatefulSet", "Job")
                )["spec"]["template"]["metadata"]["labels"]
                assert _allowed(policies, labels, "egress", None, port, {}), (name, dep)
                assert not _allowed(policies, labels, "egress", None, 443, {}), (name, "only the managed port")


def test_the_evaluator_notices_a_missing_rule() -> None:
    catalog = load_catalog(DEFAULT_CATALOG)
    objects = _objects(catalog)
    for obj in objects:
        if obj["kind"] == "NetworkPolicy" and obj["metadata"]["name"] == "qdrant":
            obj["spec"].pop("ingress")
    assert "qdrant" not in _reachability(objects)["app-api"]


# --- what each object says ---------------------------------------------------------------------


def _by(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def test_default_catalog_objects() -> None:
    catalog = load_catalog(DEFAULT_CATALOG)
    objects = _objects(catalog)
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} == {"aipair"}
    assert not [o for o in objects if o["kind"] == "Secret"], "committed manifests hold no secret values"

    qdrant = _by(objects, "StatefulSet", "qdrant")
    container = qdrant["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["initialDelaySeconds"] == 30
    assert container["resources"]["limits"] == {"cpu": "1", "memory": "2Gi"}
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    assert qdrant["spec"]["template"]["spec"]["securityContext"] == {
        "seccompProfile": {"type": "RuntimeDefault"},
        "runAsNonRoot": True,
    }
    assert qdrant["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert {
        "name": "QDRANT__SERVICE__API_KEY",
        "valueFrom": {"secretKeyRef": {"name": "aipair-secrets", "key": "QDRANT_API_KEY"}},
    } in container["env"]

    kong = _by(objects, "Deployment", "supabase-kong")["spec"]["template"]["spec"]
    assert "runAsNonRoot" not in kong["securityContext"]  # the catalog says it runs as root
    assert kong["containers"][0]["readinessProbe"]["exec"] == {"command": ["kong", "health"]}

    api = _by(objects, "Deployment", "app-api")
    hpa = _by(objects, "HorizontalPodAutoscaler", "app-api")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 10) and api["spec"]["replicas"] == 3
    assert [m["resource"]["target"]["averageUtilization"] for m in hpa["metrics"]] == [70, 80]
    web_hpa = _by(objects, "HorizontalPodAutoscaler", "tracardi-gui")["spec"]
    assert (web_hpa["minReplicas"], web_hpa["maxReplicas"]) == (2, 10)  # catalog defaults
    env = {e["name"]: e for e in api["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DATABASE_URL"]["value"] == "postgres://app:$(AIPAIR_SECRET_APP_DB_PASSWORD)@postgres:5432/app"
    names = list(env)
    assert names.index("AIPAIR_SECRET_APP_DB_PASSWORD") < names.index("DATABASE_URL")  # defined before use

    ingress = _by(objects, "Ingress", "app-api")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt"}
    assert ingress["spec"]["rules"][0]["host"] == "app.aipair.example.com"
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/api"

    postgres = [o for o in objects if o["metadata"]["name"] == "postgres"]
    assert [o["kind"] for o in postgres] == ["Service"]
    assert postgres[0]["spec"] == {
        "type": "ExternalName",
        "externalName": "aipair-platform.postgres.example.com",
        "ports": [{"name": "postgres", "port": 5432, "protocol": "TCP"}],
    }
    assert not [o for o in objects if o["metadata"]["name"] in ("proxy", "portainer")], "phase-1 only"
    job = _by(objects, "Job", "postgres-init")
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"
    assert _by(objects, "PodDisruptionBudget", "kestra")["spec"]["maxUnavailable"] == 1
    assert _by(objects, "Deployment", "kestra")["spec"]["template"]["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "8080",
    }


def test_literal_dollars_survive_kubernetes_expansion(tmp_path: Path) -> None:
    from ..helpers.catalogs import minimal, write

    data = minimal()
    data["services"]["web"]["env"]["SHELLISH"] = "$$(date) and $$HOME"
    data["services"]["migrate"]["command"] = ["sh", "-c", "echo $(hostname)"]
    catalog = load_catalog(write(tmp_path, data))
    objects = _objects(catalog)
    env = {e["name"]: e for e in _by(objects, "Deployment", "web")["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["SHELLISH"]["value"] == "$$(date) and $HOME"
    assert env["PRICE"]["value"] == "$5"
    assert (
        _by(objects, "Job", "migrate")["spec"]["template"]["spec"]["containers"][0]["args"][-1] == "echo $$(hostname)"
    )
    mounts = _by(objects, "Deployment", "web")["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {
        "name": "aipair-secrets",
        "mountPath": "/run/secrets/api_token",
        "subPath": "secret-0",
        "readOnly": True,
    } in mounts


def test_example_systems_scale_as_described() -> None:
    gestas = _objects(load_catalog(ROOT / "examples" / "gestasai.yaml"))
    for name in ("frontend", "gateway"):
        assert _by(gestas, "Deployment", name)["spec"]["replicas"] == 3
        assert not [o for o in gestas if o["kind"] == "HorizontalPodAutoscaler" and o["metadata"]["name"] == name]
    for plugin in ("plugin-auth", "plugin-system", "plugin-cms", "plugin-ai-framework"):
        spec = _by(gestas, "HorizontalPodAutoscaler", plugin)["spec"]
        assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 5), plugin
    ports = {
        p["containerPort"]
        for name in ("plugin-auth", "plugin-system", "plugin-cms", "plugin-ai-framework")
        for p in _by(gestas, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]["ports"]
    }
    assert ports == {3004, 3001, 3002, 3005}

    eco = _objects(load_catalog(ROOT / "examples" / "ai-ecosystem.yaml"))
    hpas = {o["metadata"]["name"]: o["spec"] for o in eco if o["kind"] == "HorizontalPodAutoscaler"}
    assert len(hpas) == 10 and "marketing-scheduler" not in hpas  # Celery beat: exactly one; MinIO is stateful
    for spec in hpas.values():
        assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 10)
        assert [m["resource"]["target"]["averageUtilization"] for m in spec["metrics"]] == [70, 80]
    assert {o["metadata"]["name"] for o in eco if o["kind"] == "StatefulSet"} == {
        "file-storage",
        "mongo",
        "redis",
        "clickhouse",
        "kafka",
    }
    assert _by(eco, "Service", "postgres")["spec"]["type"] == "ExternalName"


def test_quantities_take_the_form_the_server_stores() -> None:
    from aipair.render import quantities

    assert [quantities.cpu(m) for m in (1000, 250, 1500, 3000)] == ["1", "250m", "1500m", "3"]
    assert [quantities.binary(q) for q in ("1024Mi", "1536Mi", "1048576Ki", "2Gi")] == ["1Gi", "1536Mi", "1Gi", "2Gi"]
    with pytest.raises(ValueError, match="not a binary quantity"):
        quantities.binary("1G")


def test_the_report_names_each_service_that_restricted_would_refuse() -> None:
    from aipair.render.pod_security import restricted_gaps, workload_pod

    groups, notes = render_kubernetes(load_catalog(DEFAULT_CATALOG))
    reported = {n.service: n.message for n in notes if n.topic == "pod_security"}
    db = next(o for o in groups["supabase-db"] if o["kind"] == "StatefulSet")
    pod = workload_pod(db)
    assert pod is not None and restricted_gaps(pod) == ["runAsNonRoot != true"]
    assert "runAsNonRoot != true: the image starts as root (runs_as_root: true)" in reported["supabase-db"]
    qdrant = next(o for o in groups["qdrant"] if o["kind"] in ("StatefulSet", "Deployment"))
    assert restricted_gaps(workload_pod(qdrant) or {}) == []
    assert "qdrant" not in reported
    namespace = groups["namespace"][0]["metadata"]["labels"]
    assert {namespace[f"pod-security.kubernetes.io/{m}"] for m in ("enforce", "warn", "audit")} == {"baseline"}
