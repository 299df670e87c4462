"""What a rendered pod would need to pass the Pod Security Standards' `restricted` level. Pure.

Mirrors the checks that `restricted` adds to `baseline` in k8s.io/pod-security-admission (policy/check_*.go,
v0.37), with their ForbiddenReason texts, so the translation report says what the API server would say.
Hand-written because the only implementation is that Go package; tests/engine/test_kube_pod_security.py
holds this module to the real admission controller's warnings. Baseline checks are not repeated: nothing
the renderer writes can fail them, and the engine tests apply every object at baseline to prove it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

RESTRICTED = "restricted"
ALLOWED_VOLUME_TYPES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
)
ALLOWED_ADDED_CAPABILITY = "NET_BIND_SERVICE"
CONFINED_SECCOMP = frozenset({"RuntimeDefault", "Localhost"})


def _containers(pod: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from pod.get(key) or []


def _context(container: dict[str, Any]) -> dict[str, Any]:
    return container.get("securityContext") or {}


def restricted_gaps(pod: dict[str, Any]) -> list[str]:
    """The ForbiddenReasons `restricted` would give for ``pod`` (a pod spec), in the server's order."""
    pod_context = pod.get("securityContext") or {}
    containers = list(_containers(pod))
    user_namespace = pod.get("hostUsers") is False  # checks on uid 0 are relaxed in a user namespace (KEP-127)
    gaps = []
    if any(_context(c).get("allowPrivilegeEscalation") is not False for c in containers):
        gaps.append("allowPrivilegeEscalation != false")
    if any(_unrestricted_capabilities(c) for c in containers):
        gaps.append("unrestricted capabilities")
    if any(not (set(volume) - {"name"}) <= ALLOWED_VOLUME_TYPES for volume in pod.get("volumes") or []):
        gaps.append("restricted volume types")
    if not user_namespace and _not_non_root(pod_context, containers):
        gaps.append("runAsNonRoot != true")
    if not user_namespace and any(ctx.get("runAsUser") == 0 for ctx in (pod_context, *map(_context, containers))):
        gaps.append("runAsUser=0")
    if _unconfined(pod_context, containers):
        gaps.append("seccompProfile")
    return gaps


def _unrestricted_capabilities(container: dict[str, Any]) -> bool:
    capabilities = _context(container).get("capabilities") or {}
    added = set(capabilities.get("add") or []) - {ALLOWED_ADDED_CAPABILITY}
    return "ALL" not in (capabilities.get("drop") or []) or bool(added)


def _not_non_root(pod_context: dict[str, Any], containers: list[dict[str, Any]]) -> bool:
    if pod_context.get("runAsNonRoot") is False:
        return True
    pod_non_root = pod_context.get("runAsNonRoot") is True
    for container in containers:
        own = _context(container).get("runAsNonRoot")
        if own is False or (own is None and not pod_non_root):
            return True
    return False


def _seccomp_type(context: dict[str, Any]) -> str | None:
    profile = context.get("seccompProfile") or {}
    kind = profile.get("type")
    return str(kind) if kind else None


def _unconfined(pod_context: dict[str, Any], containers: list[dict[str, Any]]) -> bool:
    pod_type = _seccomp_type(pod_context)
    if pod_type is not None and pod_type not in CONFINED_SECCOMP:
        return True
    for container in containers:
        own = _seccomp_type(_context(container))
        if (own is not None and own not in CONFINED_SECCOMP) or (own is None and pod_type is None):
            return True
    return False


def workload_pod(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The pod spec inside a Deployment, StatefulSet, Job (or a bare Pod); None for other kinds."""
    if obj.get("kind") == "Pod":
        return dict(obj.get("spec") or {})
    template = (obj.get("spec") or {}).get("template")
    return dict(template.get("spec") or {}) if isinstance(template, dict) else None
