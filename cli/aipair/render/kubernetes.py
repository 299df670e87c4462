"""Phase 2: the catalog as Kubernetes objects. Pure: same catalog in, same list of dicts out.

Both outputs read this: the plain manifests in k8s/ and the Pulumi program in stacks/. Secret
values never appear: containers read them from the Secret `<project>-secrets` by key.
"""

from __future__ import annotations

from typing import Any

from ..catalog.model import Catalog, Service, Volume
from . import quantities
from .databases import with_init_jobs
from .kubernetes_pods import PHASE, pod_spec, scrape_annotations
from .names import base_labels, secret_name, volume_name
from .pod_security import RESTRICTED, restricted_gaps
from .report import Note

DNS_PORT = 53


def labels(catalog: Catalog, name: str, svc: Service) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/part-of": catalog.project.name,
        "app.kubernetes.io/component": svc.layer,
        "app.kubernetes.io/managed-by": "aipair",
    }


def selector(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name}


def render_kubernetes(catalog: Catalog) -> tuple[dict[str, list[dict[str, Any]]], list[Note]]:
    """Objects grouped by output file stem: "namespace" (namespace and shared policies), then one per service."""
    catalog = with_init_jobs(catalog)
    services = catalog.in_phase(PHASE)
    notes: list[Note] = []
    groups: dict[str, list[dict[str, Any]]] = {"namespace": _namespace_objects(catalog)}
    for name, svc in services.items():
        groups[name] = _service_objects(catalog, name, svc, services, notes)
    notes += _catalog_notes(catalog, services)
    return groups, sorted(notes)


def _meta(
    name: str, catalog: Catalog, svc_name: str | None = None, svc: Service | None = None, **extra: Any
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": catalog.project.namespace}
    if svc_name and svc:
        meta["labels"] = labels(catalog, svc_name, svc)
    else:
        meta["labels"] = base_labels(catalog)
    meta.update(extra)
    return meta


def pod_security_labels(level: str) -> dict[str, str]:
    """The namespace enforces the catalog's level, and warns and audits at it: `kubectl apply` shows the
    warnings, and the audit log records what the level rejects."""
    return {f"pod-security.kubernetes.io/{mode}": level for mode in ("enforce", "warn", "audit")}


def _namespace_objects(catalog: Catalog) -> list[dict[str, Any]]:
    k8s = catalog.project.kubernetes
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": catalog.project.namespace,
                "labels": {**base_labels(catalog), **pod_security_labels(k8s.pod_security)},
            },
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _meta("default-deny", catalog),
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _meta("allow-dns", catalog),
            "spec": {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
                        "ports": [{"protocol": "UDP", "port": DNS_PORT}, {"protocol": "TCP", "port": DNS_PORT}],
                    }
                ],
            },
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _meta("allow-monitoring", catalog),
            "spec": {
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": k8s.monitoring_namespace}
                                }
                            }
                        ]
                    }
                ],
            },
        },
    ]


def _service_objects(
    catalog: Catalog, name: str, svc: Service, services: dict[str, Service], notes: list[Note]
) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    if svc.scale.managed is not None:
        managed = svc.scale.managed
        ports = [{"name": p.name, "port": managed.port or p.port, "protocol": p.protocol.upper()} for p in svc.ports]
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": _meta(name, catalog, name, svc),
                "spec": {"type": "ExternalName", "externalName": managed.host, "ports": ports},
            }
        )
        notes.append(
            Note(
                PHASE,
                "managed",
                name,
                f"an ExternalName Service for the managed endpoint {managed.host}; "
                f"credentials stay in the Secret {secret_name(catalog)}",
            )
        )
        return objects
    if svc.files:
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": _meta(f"{name}-files", catalog, name, svc),
                "data": {f"file-{i}": f.content for i, f in enumerate(svc.files)},
            }
        )
    pod = pod_spec(catalog, name, svc, notes)
    gaps = restricted_gaps(pod)
    if gaps:
        notes.append(Note(PHASE, "pod_security", name, _restricted_note(svc, gaps)))
    template = {"metadata": {"labels": labels(catalog, name, svc), "annotations": scrape_annotations(svc)}, "spec": pod}
    if not template["metadata"]["annotations"]:
        del template["metadata"]["annotations"]
    autoscale = svc.scale.autoscale
    if autoscale is None and svc.kind == "stateless":
        autoscale = catalog.defaults.autoscale  # the catalog's defaults apply unless the service says `false`
    if svc.kind == "job":
        pod["restartPolicy"] = "OnFailure"
        objects.append(
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": _meta(name, catalog, name, svc),
                "spec": {"backoffLimit": 6, "template": template},
            }
        )
    elif svc.kind == "stateful":
        claims = [_claim(catalog, name, svc, v, template=True) for v in svc.volumes if not v.shared_from]
        spec: dict[str, Any] = {
            "serviceName": name,
            "replicas": svc.scale.replicas,
            "selector": {"matchLabels": selector(name)},
            "template": template,
        }
        if claims:
            spec["volumeClaimTemplates"] = claims
        objects.append(
            {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": _meta(name, catalog, name, svc), "spec": spec}
        )
    else:
        replicas = autoscale.min if autoscale else svc.scale.replicas
        objects += [_claim(catalog, name, svc, v, template=False) for v in svc.volumes if not v.shared_from]
        shared_with = sorted(other for other, s in services.items() for v in s.volumes if v.shared_from == name)
        if shared_with:
            notes.append(
                Note(
                    PHASE,
                    "volumes",
                    name,
                    f"its volumes are shared with {', '.join(shared_with)}: they need a ReadWriteMany storage class",
                )
            )
        if svc.volumes and ((autoscale and autoscale.max > 1) or replicas > 1):
            notes.append(
                Note(
                    PHASE,
                    "volumes",
                    name,
                    "several replicas share ReadWriteOnce volumes: give the service "
                    "kind stateful, or use a ReadWriteMany storage class",
                )
            )
        objects.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": _meta(name, catalog, name, svc),
                "spec": {"replicas": replicas, "selector": {"matchLabels": selector(name)}, "template": template},
            }
        )
    if svc.ports:
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": _meta(name, catalog, name, svc),
                "spec": {
                    "type": "ClusterIP",
                    "selector": selector(name),
                    "ports": [
                        {"name": p.name, "port": p.port, "targetPort": p.name, "protocol": p.protocol.upper()}
                        for p in svc.ports
                    ],
                },
            }
        )
    if svc.kind == "stateless" and autoscale:
        objects.append(_hpa(catalog, name, svc, autoscale))
    if svc.kind != "job":
        objects.append(
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": _meta(name, catalog, name, svc),
                "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(name)}},
            }
        )
    objects.append(_network_policy(catalog, name, svc, services))
    ingress = _ingress(catalog, name, svc)
    if ingress:
        objects.append(ingress)
    return objects


_GAP_CAUSES = {
    "runAsNonRoot != true": "the image starts as root (runs_as_root: true)",
    "runAsUser=0": "it runs as uid 0 (user)",
}


def _restricted_note(svc: Service, gaps: list[str]) -> str:
    """Why this service's pods would not pass `restricted`, in the server's words and the catalog's."""
    causes = "; ".join(f"{gap}: {_GAP_CAUSES[gap]}" if gap in _GAP_CAUSES else gap for gap in gaps)
    remedy = "give the image a non-root user, or run it in a user namespace (hostUsers: false)"
    return f"would fail Pod Security {RESTRICTED}: {causes}; {remedy}"


def _claim(catalog: Catalog, name: str, svc: Service, volume: Volume, *, template: bool) -> dict[str, Any]:
    shared = any(v.shared_from == name and v.name == volume.name for s in catalog.services.values() for v in s.volumes)
    spec: dict[str, Any] = {
        "accessModes": ["ReadOnlyMany" if volume.read_only else ("ReadWriteMany" if shared else "ReadWriteOnce")],
        "resources": {"requests": {"storage": quantities.binary(volume.size)}},
    }
    if catalog.project.kubernetes.storage_class:
        spec["storageClassName"] = catalog.project.kubernetes.storage_class
    claim_name = volume.name if template else volume_name(name, volume.name)
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": _meta(claim_name, catalog, name, svc)}
    if not template:
        return {**claim, "spec": spec}
    # volumeClaimTemplates is an atomic list: written as the server stores it (with its defaults), so that
    # another field manager applying the same catalog finds nothing changed instead of a conflict.
    return {**claim, "spec": {**spec, "volumeMode": "Filesystem"}, "status": {"phase": "Pending"}}


def _hpa(catalog: Catalog, name: str, svc: Service, autoscale: Any) -> dict[str, Any]:
    # only stateless services autoscale, so the target is always their Deployment
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(name, catalog, name, svc),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": autoscale.min,
            "maxReplicas": autoscale.max,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": autoscale.cpu}},
                },
                {
                    "type": "Resource",
                    "resource": {
                        "name": "memory",
                        "target": {"type": "Utilization", "averageUtilization": autoscale.memory},
                    },
                },
            ],
        },
    }


def _network_policy(catalog: Catalog, name: str, svc: Service, services: dict[str, Service]) -> dict[str, Any]:
    """Allow exactly the dependency graph: in from dependents, out to dependencies (on their ports)."""
    ingress = []
    dependents = [other for other, s in services.items() if name in s.depends_on]
    if dependents and svc.ports:
        ingress.append(
            {
                "from": [{"podSelector": {"matchLabels": selector(d)}} for d in dependents],
                "ports": [{"protocol": p.protocol.upper(), "port": p.name} for p in svc.ports],
            }
        )
    if any(p.public for p in svc.ports):
        ingress.append(
            {
                "from": [
                    {
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": catalog.project.kubernetes.ingress_namespace}
                        }
                    }
                ],
                "ports": [{"protocol": p.protocol.upper(), "port": p.name} for p in svc.ports if p.public],
            }
        )
    egress = []
    for dep in svc.depends_on:
        target = services.get(dep)
        if target is None or not target.ports:
            continue
        ports = [
            {
                "protocol": p.protocol.upper(),
                "port": (target.scale.managed.port or p.port) if target.scale.managed else p.port,
            }
            for p in target.ports
        ]
        peer = (
            {"ipBlock": {"cidr": "0.0.0.0/0"}}
            if target.scale.managed
            else {"podSelector": {"matchLabels": selector(dep)}}
        )
        egress.append({"to": [peer], "ports": ports})
    spec: dict[str, Any] = {"podSelector": {"matchLabels": selector(name)}, "policyTypes": ["Ingress", "Egress"]}
    if ingress:
        spec["ingress"] = ingress
    if egress:
        spec["egress"] = egress
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(name, catalog, name, svc),
        "spec": spec,
    }


def _ingress(catalog: Catalog, name: str, svc: Service) -> dict[str, Any] | None:
    public = [p for p in svc.ports if p.public]
    if not public:
        return None
    hosts: dict[str, list[dict[str, Any]]] = {}
    for port in public:
        assert port.public is not None
        host = catalog.expand(port.public.hostname)
        hosts.setdefault(host, []).append(
            {
                "path": port.public.path,
                "pathType": "Prefix",
                "backend": {"service": {"name": name, "port": {"name": port.name}}},
            }
        )
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _meta(
            name, catalog, name, svc, annotations={"cert-manager.io/cluster-issuer": catalog.project.tls.issuer}
        ),
        "spec": {
            "ingressClassName": catalog.project.kubernetes.ingress_class,
            "tls": [{"hosts": sorted(hosts), "secretName": f"{name}-tls"}],
            "rules": [{"host": host, "http": {"paths": paths}} for host, paths in sorted(hosts.items())],
        },
    }


START_ORDER_NOTE = "Kubernetes has no start order: readiness probes gate traffic and containers restart until their dependencies answer"


def _catalog_notes(catalog: Catalog, services: dict[str, Service]) -> list[Note]:
    secrets = (
        f"values live in the Secret {secret_name(catalog)} (created by the Pulumi stack from its encrypted "
        "config, or by you); manifests hold references only"
    )
    notes = [Note(PHASE, "depends_on", None, START_ORDER_NOTE), Note(PHASE, "secrets", None, secrets)]
    skipped = [n for n, s in catalog.services.items() if not s.in_phase(PHASE)]
    if skipped:
        notes.append(Note(PHASE, "phases", None, "not part of phase 2: " + ", ".join(skipped)))
    jobs = [n for n, s in services.items() if s.kind == "job"]
    if jobs:
        notes.append(
            Note(
                PHASE,
                "jobs",
                None,
                "Jobs are immutable: delete a finished Job before re-applying a changed one (" + ", ".join(jobs) + ")",
            )
        )
    return notes
