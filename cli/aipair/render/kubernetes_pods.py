"""Phase 2: the pod inside each workload — container, env, probes, resources, mounts. Pure."""

from __future__ import annotations

import math
import re
from typing import Any

from ..catalog.model import Catalog, Service
from ..catalog.probes import CommandHealth, HttpHealth, TcpHealth
from ..catalog.types import REFERENCE_RE, duration_seconds
from . import quantities
from .names import secret_name, volume_name
from .report import Note

PHASE = "scale"
_K8S_OPERATOR = re.compile(r"\$(?=[$(])")


def seconds(duration: str) -> int:
    """A Compose-style duration as whole seconds for probe fields (at least 1)."""
    return max(1, math.ceil(duration_seconds(duration)))


def scrape_annotations(svc: Service) -> dict[str, str]:
    if not svc.ports or svc.kind == "job":
        return {}
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(svc.ports[0].port)}


def pod_spec(catalog: Catalog, name: str, svc: Service, notes: list[Note]) -> dict[str, Any]:
    container: dict[str, Any] = {"name": name, "image": svc.image}
    if svc.entrypoint is not None:
        container["command"] = [k8s_literal(part) for part in svc.entrypoint]
    if svc.command is not None:
        container["args"] = [k8s_literal(part) for part in svc.command]
    env = _env(catalog, svc)
    if env:
        container["env"] = env
    if svc.ports:
        container["ports"] = [
            {"name": p.name, "containerPort": p.port, "protocol": p.protocol.upper()} for p in svc.ports
        ]
    resources = svc.resources or catalog.defaults.resources
    millicores = round(resources.cpus * 1000)
    container["resources"] = {
        "limits": {"cpu": quantities.cpu(millicores), "memory": quantities.binary(resources.memory)},
        "requests": {
            "cpu": quantities.cpu(max(10, millicores // 4)),
            "memory": quantities.binary(resources.reserve_memory or resources.memory),
        },
    }
    probes = _probes(svc)
    container.update(probes)
    container["securityContext"] = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    mounts, volumes = _mounts(catalog, name, svc)
    if mounts:
        container["volumeMounts"] = mounts
    pod: dict[str, Any] = {
        "securityContext": {
            "seccompProfile": {"type": "RuntimeDefault"},
            **({} if svc.runs_as_root else {"runAsNonRoot": True}),
            **_user_ids(svc),
        },
        "containers": [container],
    }
    if volumes:
        pod["volumes"] = volumes
    if svc.docker_socket:
        notes.append(Note(PHASE, "docker_socket", name, "the Docker socket does not exist in Kubernetes; not mounted"))
    return pod


def _user_ids(svc: Service) -> dict[str, int]:
    """`user: "999:1000"` as the pod's uid and gid, and the group that owns its volumes (fsGroup): an image that
    starts as root and steps down itself (redis, mongo) must run as its user from the start under runAsNonRoot.
    A user given by name cannot be resolved here, so it is left to the image."""
    uid, _, gid = (svc.user or "").partition(":")
    if not uid.isdigit() or (gid and not gid.isdigit()):
        return {}
    group = int(gid or uid)
    return {"runAsUser": int(uid), "runAsGroup": group, "fsGroup": group}


def _env(catalog: Catalog, svc: Service) -> list[dict[str, Any]]:
    """Plain values, secrets by reference. `${NAME}` inside a value uses Kubernetes' `$(VAR)`
    expansion of a helper variable defined first; every other `$` is kept literal (``k8s_literal``)."""
    secret = secret_name(catalog)
    helpers: dict[str, dict[str, Any]] = {}
    plain: list[dict[str, Any]] = []
    for key, value in svc.env.items():
        if isinstance(value, bool):
            plain.append({"name": key, "value": "true" if value else "false"})
            continue
        text = catalog.expand(str(value))
        whole = REFERENCE_RE.fullmatch(text)
        if whole and whole.group(1):
            plain.append({"name": key, "valueFrom": {"secretKeyRef": {"name": secret, "key": whole.group(1)}}})
            continue
        # Literal runs and helper references alternate; a literal `$` just before a reference needs escaping too.
        out: list[str] = []
        pending = ""
        last = 0
        for match in REFERENCE_RE.finditer(text):
            token, name = match.group(0), match.group(1)
            pending += text[last : match.start()]
            last = match.end()
            if name:
                helper = f"AIPAIR_SECRET_{name}"
                helpers[helper] = {"name": helper, "valueFrom": {"secretKeyRef": {"name": secret, "key": name}}}
                out.append(k8s_literal(pending, before_reference=True) + f"$({helper})")
                pending = ""
            else:
                pending += "$" if token == "$$" else token
        out.append(k8s_literal(pending + text[last:]))
        plain.append({"name": key, "value": "".join(out)})
    for use in svc.secrets:
        if use.env:
            plain.append({"name": use.env, "valueFrom": {"secretKeyRef": {"name": secret, "key": use.secret}}})
    return [*helpers.values(), *plain]


def k8s_literal(text: str, *, before_reference: bool = False) -> str:
    """``text`` as Kubernetes must read it in command, args and env values to keep it literal.

    The kubelet turns `$$` into `$` and `$(VAR)` into VAR's value; any other `$` stays. So a `$` is
    doubled exactly when a `$` or `(` follows it (or a reference does), and stays single otherwise:
    the manifest reads as the catalog wrote it, with no Compose-style `$$` where none is needed.
    """
    if before_reference:  # the reference starts with `$`: escape as if one followed, then drop it
        return _K8S_OPERATOR.sub("$$", text + "$")[:-1]
    return _K8S_OPERATOR.sub("$$", text)


def _probes(svc: Service) -> dict[str, Any]:
    health = svc.health
    if health is None or svc.kind == "job":
        return {}
    if isinstance(health, HttpHealth):
        port_name = next(p.name for p in svc.ports if p.port == health.port)
        handler: dict[str, Any] = {"httpGet": {"path": health.path, "port": port_name}}
    elif isinstance(health, TcpHealth):
        port_name = next(p.name for p in svc.ports if p.port == health.port)
        handler = {"tcpSocket": {"port": port_name}}
    elif isinstance(health, CommandHealth):
        command = health.command if isinstance(health.command, list) else ["sh", "-c", health.command]
        handler = {"exec": {"command": list(command)}}
    else:  # pragma: no cover
        raise TypeError(health)
    timing = {
        "periodSeconds": seconds(health.interval),
        "timeoutSeconds": seconds(health.timeout),
        "failureThreshold": health.retries,
    }
    return {
        "readinessProbe": {**handler, **timing},
        "livenessProbe": {**handler, **timing, "initialDelaySeconds": seconds(health.start_period)},
    }


def _mounts(catalog: Catalog, name: str, svc: Service) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    mounts: list[dict[str, Any]] = []
    volumes: list[dict[str, Any]] = []
    for volume in svc.volumes:
        mounts.append(
            {"name": volume.name, "mountPath": volume.path, **({"readOnly": True} if volume.read_only else {})}
        )
        if svc.kind != "stateful" or volume.shared_from:
            claim = volume_name(volume.owner(name), volume.name)
            volumes.append({"name": volume.name, "persistentVolumeClaim": {"claimName": claim}})
    if svc.files:
        volumes.append({"name": "aipair-files", "configMap": {"name": f"{name}-files"}})
        for index, file in enumerate(svc.files):
            mounts.append(
                {"name": "aipair-files", "mountPath": file.path, "subPath": f"file-{index}", "readOnly": True}
            )
    file_secrets = [(i, use) for i, use in enumerate(svc.secrets) if use.file]
    if file_secrets:
        volumes.append(
            {
                "name": "aipair-secrets",
                "secret": {
                    "secretName": secret_name(catalog),
                    "defaultMode": 0o400,
                    "items": [{"key": u.secret, "path": f"secret-{i}"} for i, u in file_secrets],
                },
            }
        )
        for index, use in file_secrets:
            mounts.append(
                {"name": "aipair-secrets", "mountPath": use.file, "subPath": f"secret-{index}", "readOnly": True}
            )
    return mounts, volumes
