"""The translation report's Pod Security findings against the real admission controller.

Every workload rendered for the default catalog and both examples is dry-run into a namespace that warns at
`restricted`: the reasons the server gives must be exactly what render/pod_security.py reports. Handmade pods
exercise each check, in both directions, so the mirror cannot drift from the server unnoticed.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aipair.catalog import load_catalog
from aipair.render.kubernetes import render_kubernetes
from aipair.render.pod_security import restricted_gaps, workload_pod

from ..helpers.kube import Cluster, ControlPlane, wait_until, warn_text
from ..helpers.paths import CATALOGS, DEFAULT_CATALOG

PROBE_NAMESPACE = "aipair-restricted-probe"
AUDIT_FLUSH_TIMEOUT = 10.0
_VIOLATION = re.compile(r'would violate PodSecurity "restricted:[^"]+": (.*)$')


def reasons(warnings: tuple[str, ...]) -> list[str]:
    """The ForbiddenReasons of a Pod Security warning: the list after the colon, split outside parentheses."""
    for warning in warnings:
        match = _VIOLATION.search(warning)
        if not match:
            continue
        found, depth, current = [], 0, ""
        for char in match.group(1):
            depth += {"(": 1, ")": -1}.get(char, 0)
            if char == "," and depth == 0:
                found.append(current.strip())
                current = ""
            else:
                current += char
        found.append(current.strip())
        return [re.sub(r"\s*\(.*\)$", "", item) for item in found]
    return []


def test_reasons_are_read_from_the_servers_words() -> None:
    header = (
        '299 - "would violate PodSecurity \\"restricted:latest\\": runAsNonRoot != true (pod or container \\"a\\" '
        'must set securityContext.runAsNonRoot=true), seccompProfile (pod or containers \\"a\\", \\"b\\" must set '
        'securityContext.seccompProfile.type to \\"RuntimeDefault\\" or \\"Localhost\\")"'
    )
    assert reasons((warn_text(header),)) == ["runAsNonRoot != true", "seccompProfile"]
    assert reasons(("something else",)) == []


@pytest.fixture(scope="module")
def probe(kube: ControlPlane) -> Iterator[Cluster]:
    """A namespace that admits anything and warns at restricted: the server says what restricted would refuse."""
    cluster = Cluster(kube)
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": PROBE_NAMESPACE,
            "labels": {
                "pod-security.kubernetes.io/enforce": "privileged",
                "pod-security.kubernetes.io/warn": "restricted",
            },
        },
    }
    cluster.apply(namespace)
    yield cluster


def _server_reasons(cluster: Cluster, obj: dict[str, Any]) -> list[str]:
    moved = copy.deepcopy(obj)
    moved["metadata"]["namespace"] = PROBE_NAMESPACE
    return reasons(cluster.apply(moved, dry_run=True, manager="pod-security-probe").warnings)


@pytest.mark.parametrize("catalog_path", CATALOGS, ids=lambda p: p.stem)
def test_the_report_names_what_the_server_would_refuse(probe: Cluster, catalog_path: Path) -> None:
    groups, notes = render_kubernetes(load_catalog(catalog_path))
    reported = {note.service: note.message for note in notes if note.topic == "pod_security"}
    workloads = [o for objects in groups.values() for o in objects if workload_pod(o) is not None]
    assert workloads
    if catalog_path == DEFAULT_CATALOG:  # supabase-db and others start as root: the check is not vacuous
        assert "supabase-db" in reported
    for obj in workloads:
        server = _server_reasons(probe, obj)
        pod = workload_pod(obj)
        assert pod is not None
        assert restricted_gaps(pod) == server, obj["metadata"]["name"]
        name = obj["metadata"]["name"]
        if server:
            assert all(reason in reported[name] for reason in server), reported.get(name)
        else:
            assert name not in reported


def _pod(**changes: Any) -> dict[str, Any]:
    container = {
        "name": "main",
        "image": "registry.invalid/app:1",
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }
    spec: dict[str, Any] = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
    }
    for path, value in changes.items():
        target = spec
        keys = path.split("__")
        for key in keys[:-1]:
            target = target[int(key)] if isinstance(target, list) else target.setdefault(key, {})
        if value is None:
            target.pop(keys[-1], None)
        else:
            target[keys[-1]] = value
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe", "namespace": "x"}, "spec": spec}


ESC, CAPS, VOLUMES, NON_ROOT, UID0, SECCOMP = (
    "allowPrivilegeEscalation != false",
    "unrestricted capabilities",
    "restricted volume types",
    "runAsNonRoot != true",
    "runAsUser=0",
    "seccompProfile",
)
# name: (changes to a compliant pod, the reasons restricted gives)
VARIANTS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "compliant": ({}, []),
    "escalation-unset": ({"containers__0__securityContext__allowPrivilegeEscalation": None}, [ESC]),
    "escalation-true": ({"containers__0__securityContext__allowPrivilegeEscalation": True}, [ESC]),
    "no-drop-all": ({"containers__0__securityContext__capabilities": {"drop": ["NET_RAW"]}}, [CAPS]),
    "adds-net-bind": (
        {"containers__0__securityContext__capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}},
        [],
    ),
    "adds-chown": ({"containers__0__securityContext__capabilities": {"drop": ["ALL"], "add": ["CHOWN"]}}, [CAPS]),
    "nfs-volume": ({"volumes": [{"name": "n", "nfs": {"server": "nfs.invalid", "path": "/x"}}]}, [VOLUMES]),
    "emptydir-volume": ({"volumes": [{"name": "e", "emptyDir": {}}]}, []),
    "root-allowed": ({"securityContext__runAsNonRoot": None}, [NON_ROOT]),
    "root-pod-false": ({"securityContext__runAsNonRoot": False}, [NON_ROOT]),
    "root-container-true": (
        {"securityContext__runAsNonRoot": None, "containers__0__securityContext__runAsNonRoot": True},
        [],
    ),
    "uid-0": ({"securityContext__runAsUser": 0}, [UID0]),
    "uid-0-user-namespace": (
        {"securityContext__runAsUser": 0, "securityContext__runAsNonRoot": None, "hostUsers": False},
        [],
    ),
    "seccomp-unset": ({"securityContext__seccompProfile": None}, [SECCOMP]),
    "seccomp-container": (
        {
            "securityContext__seccompProfile": None,
            "containers__0__securityContext__seccompProfile": {"type": "RuntimeDefault"},
        },
        [],
    ),
    "seccomp-unconfined": ({"securityContext__seccompProfile": {"type": "Unconfined"}}, [SECCOMP]),
    "everything": (
        {
            "containers__0__securityContext": {"runAsUser": 0},
            "securityContext": {},
            "volumes": [{"name": "n", "nfs": {"server": "nfs.invalid", "path": "/x"}}],
        },
        [ESC, CAPS, VOLUMES, NON_ROOT, UID0, SECCOMP],
    ),
}


@pytest.mark.parametrize(("changes", "expected"), VARIANTS.values(), ids=VARIANTS.keys())
def test_each_check_agrees_with_the_admission_controller(
    probe: Cluster, changes: dict[str, Any], expected: list[str]
) -> None:
    pod = _pod(**changes)
    assert _server_reasons(probe, pod) == expected
    assert restricted_gaps(pod["spec"]) == expected


def test_the_audit_log_records_what_a_level_refuses(kube: ControlPlane) -> None:
    """The positive control of test_kube_apply's audit check: the audit log does carry Pod Security findings."""
    cluster = Cluster(kube)
    namespace = "aipair-audit-probe"
    cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": namespace,
                "labels": {
                    "pod-security.kubernetes.io/enforce": "privileged",
                    "pod-security.kubernetes.io/audit": "restricted",
                },
            },
        }
    )
    pod = _pod(securityContext__runAsNonRoot=None)
    pod["metadata"]["namespace"] = namespace
    cluster.apply(pod, dry_run=True)
    found = wait_until(  # the audit backend may write after the answer
        "the audit log's Pod Security annotation",
        lambda: [
            value
            for uri, value in kube.audit_annotations("pod-security.kubernetes.io/audit-violations")
            if f"/namespaces/{namespace}/" in uri
        ],
        timeout=AUDIT_FLUSH_TIMEOUT,
    )
    assert found and "runAsNonRoot != true" in found[0]
