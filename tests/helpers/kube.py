"""A real Kubernetes control plane on loopback for the tests: etcd, kube-apiserver, kube-controller-manager and
kube-scheduler, built from the Go module proxy by scripts/build-kube.sh (cached). No kubelet: pods are created
and scheduled against zero nodes, so they stay Pending, honestly.

Auth is a static bearer token in group system:masters (RBAC on); TLS uses certificates generated here with
openssl. Everything lives in one temporary directory that `stop()` removes.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from aipair.catalog import load_catalog
from aipair.render.kubernetes import render_kubernetes

from .paths import ROOT
from .registry import free_port

READY_TIMEOUT = 120.0
T = TypeVar("T")
ADMIN_TOKEN_BYTES = 24
SERVICE_CIDR = "10.96.0.0/24"


def build_control_plane() -> Path:
    """The bin directory of the cached control plane; builds it (minutes, once) when the cache lacks it."""
    done = subprocess.run([str(ROOT / "scripts" / "build-kube.sh")], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"scripts/build-kube.sh failed:\n{done.stderr[-4000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _certificates(base: Path) -> None:
    """A CA, the API server's serving certificate for 127.0.0.1, and the service-account signing key."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
             "-subj", "/CN=aipair-test-ca", "-days", "2", cwd=base)  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
             "-subj", "/CN=kube-apiserver", cwd=base)  # fmt: skip
    (base / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n"
    )
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "server.crt", "-days", "2", "-extfile", "server.ext", cwd=base)  # fmt: skip
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=base)
    _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=base)


@dataclass
class ControlPlane:
    """A running control plane. ``kubeconfig`` is a file any client can use (context ``aipair-test``)."""

    base: Path
    server: str
    token: str
    ca: Path
    kubeconfig: Path
    bin: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(
            base_url=self.server,
            verify=ssl.create_default_context(cafile=str(self.ca)),
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
            **kwargs,  # type: ignore[arg-type]
        )

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "kubectl"), "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True,
            text=True,
            check=check,
        )

    @property
    def audit_log(self) -> Path:
        return self.base / "audit.log"

    def audit_annotations(self, key: str) -> list[tuple[str, str]]:
        """(request URI, value) of every audit event annotated with ``key`` so far."""
        import json

        found = []
        if self.audit_log.exists():
            for line in self.audit_log.read_text().splitlines():
                event = json.loads(line)
                value = (event.get("annotations") or {}).get(key)
                if value:
                    found.append((event["requestURI"], value))
        return found

    def log(self, name: str) -> str:
        path = self.base / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self.base, ignore_errors=True)


def _start(plane: ControlPlane, name: str, args: list[str]) -> None:
    log = open(plane.base / f"{name}.log", "wb")  # the process owns it until it ends
    plane.processes[name] = subprocess.Popen(
        [str(plane.bin / name), *args], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _wait(plane: ControlPlane, what: str, ready: object) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        for name, process in plane.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited ({process.returncode}) while waiting for {what}:\n{plane.log(name)}")
        try:
            if ready():  # type: ignore[operator]
                return
        except (httpx.HTTPError, OSError):
            pass
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {n}\n{plane.log(n)}" for n in plane.processes)
            raise RuntimeError(f"the control plane was not ready ({what}) within {READY_TIMEOUT:.0f} s:\n{logs}")
        time.sleep(0.25)


def start_control_plane(bin_dir: Path) -> ControlPlane:
    base = Path(tempfile.mkdtemp(prefix="aipair-kube-", dir="/tmp"))
    _certificates(base)
    token = os.urandom(ADMIN_TOKEN_BYTES).hex()
    (base / "tokens.csv").write_text(f'{token},aipair-admin,aipair-admin,"system:masters"\n')
    api_port, etcd_port, peer_port, scheduler_port = (free_port() for _ in range(4))
    server = f"https://127.0.0.1:{api_port}"
    kubeconfig = base / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: aipair-test, cluster: {{server: '{server}', certificate-authority: '{base / 'ca.crt'}'}}}}]\n"
        f"users: [{{name: aipair-admin, user: {{token: '{token}'}}}}]\n"
        "contexts: [{name: aipair-test, context: {cluster: aipair-test, user: aipair-admin}}]\n"
        "current-context: aipair-test\n"
    )
    # Pod Security's `audit` mode writes its findings as annotations of the audit events: keep every request's
    (base / "audit.yaml").write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: Metadata}]\n")
    plane = ControlPlane(base, server, token, base / "ca.crt", kubeconfig, bin_dir)
    try:
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        _start(plane, "etcd", [
            "--name", "aipair-test", "--data-dir", str(base / "etcd"), "--listen-client-urls", etcd_url,
            "--advertise-client-urls", etcd_url, "--listen-peer-urls", peer_url,
            "--initial-advertise-peer-urls", peer_url, "--initial-cluster", f"aipair-test={peer_url}",
            "--unsafe-no-fsync", "--log-level", "warn",
        ])  # fmt: skip
        _wait(plane, "etcd", lambda: httpx.get(f"{etcd_url}/health", timeout=2).status_code == 200)
        _start(plane, "kube-apiserver", [
            "--etcd-servers", etcd_url, "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
            "--endpoint-reconciler-type", "none",  # the default reconciler refuses a loopback address
            "--secure-port", str(api_port), "--tls-cert-file", str(base / "server.crt"),
            "--tls-private-key-file", str(base / "server.key"), "--client-ca-file", str(base / "ca.crt"),
            "--token-auth-file", str(base / "tokens.csv"), "--authorization-mode", "RBAC",
            "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file", str(base / "sa.pub"),
            "--service-account-signing-key-file", str(base / "sa.key"),
            "--service-cluster-ip-range", SERVICE_CIDR, "--allow-privileged=true", "--profiling=false",
            "--audit-policy-file", str(base / "audit.yaml"), "--audit-log-path", str(plane.audit_log),
        ])  # fmt: skip
        with plane.client() as http:
            _wait(plane, "kube-apiserver /readyz", lambda: http.get("/readyz").status_code == 200)
        common = ["--kubeconfig", str(kubeconfig), "--leader-elect=false", "--profiling=false"]
        _start(plane, "kube-controller-manager", [
            *common, "--secure-port=0", "--service-account-private-key-file", str(base / "sa.key"),
            "--root-ca-file", str(base / "ca.crt"), "--use-service-account-credentials=false",
        ])  # fmt: skip
        _start(plane, "kube-scheduler", [
            *common, "--bind-address", "127.0.0.1", "--secure-port", str(scheduler_port),
        ])  # fmt: skip
        with plane.client() as http:
            # the service-account controller is running once the default namespace's account exists
            _wait(plane, "the controller manager",
                  lambda: http.get("/api/v1/namespaces/default/serviceaccounts/default").status_code == 200)  # fmt: skip
    except BaseException:
        plane.stop()
        raise
    return plane


@contextmanager
def control_plane() -> Iterator[ControlPlane]:
    plane = start_control_plane(build_control_plane())
    try:
        yield plane
    finally:
        plane.stop()


# --- server-side apply through the REST API, with the response's warnings -------------------------------------

APPLY = "application/apply-patch+yaml"
_WARNING = re.compile(r'^[0-9]{3} \S+ "((?:[^"\\]|\\.)*)"')


def warn_text(header: str) -> str:
    """The text of a Warning header (RFC 9111: `299 - "quoted text"`), unquoted."""
    match = _WARNING.match(header)
    return re.sub(r"\\(.)", r"\1", match.group(1)) if match else header


@dataclass(frozen=True)
class Applied:
    """One object after an apply: what the server stored, and the warnings it sent (Warning headers)."""

    live: dict[str, object]
    warnings: tuple[str, ...]


class ApplyError(RuntimeError):
    def __init__(self, obj: dict[str, object], status: int, body: str) -> None:
        meta = obj.get("metadata") or {}
        name = meta.get("name") if isinstance(meta, dict) else None
        super().__init__(f"{obj.get('kind')}/{name}: HTTP {status}: {body[:2000]}")
        self.status = status
        self.body = body


class Cluster:
    """A thin REST client: finds each kind's path by discovery, applies with server-side apply (strict field
    validation), reads and deletes. The tests use it instead of a client library so that every header the
    server sends — warnings above all — is seen."""

    def __init__(self, plane: ControlPlane) -> None:
        self.http = plane.client()
        self._paths: dict[tuple[str, str], tuple[str, bool]] = {}

    def _discover(self) -> None:
        groups = ["/api/v1"] + [
            f"/apis/{v['groupVersion']}"
            for g in self.http.get("/apis").raise_for_status().json()["groups"]
            for v in g["versions"]
        ]
        for base in groups:
            answer = self.http.get(base).raise_for_status().json()
            for resource in answer["resources"]:
                if "/" not in resource["name"]:
                    self._paths[(answer["groupVersion"], resource["kind"])] = (
                        f"{base}/{{ns}}{resource['name']}",
                        resource["namespaced"],
                    )

    def path(self, obj: dict[str, object]) -> str:
        key = (str(obj["apiVersion"]), str(obj["kind"]))
        if key not in self._paths:
            self._discover()
        template, namespaced = self._paths[key]
        meta = obj["metadata"]
        assert isinstance(meta, dict)
        prefix = f"namespaces/{meta['namespace']}/" if namespaced else ""
        return template.replace("{ns}", prefix) + f"/{meta['name']}"

    def apply(
        self, obj: dict[str, object], *, manager: str = "aipair", dry_run: bool = False, force: bool = False
    ) -> Applied:
        import json

        params = {"fieldManager": manager, "fieldValidation": "Strict"}
        if dry_run:
            params["dryRun"] = "All"
        if force:
            params["force"] = "true"
        answer = self.http.patch(
            self.path(obj), params=params, content=json.dumps(obj), headers={"Content-Type": APPLY}
        )
        if answer.status_code >= 300:
            raise ApplyError(obj, answer.status_code, answer.text)
        return Applied(answer.json(), tuple(warn_text(h) for h in answer.headers.get_list("warning")))

    def get(self, obj: dict[str, object]) -> dict[str, object] | None:
        answer = self.http.get(self.path(obj))
        if answer.status_code == 404:
            return None
        return dict(answer.raise_for_status().json())

    def delete(self, obj: dict[str, object], *, propagation: str = "Foreground") -> None:
        answer = self.http.delete(self.path(obj), params={"propagationPolicy": propagation})
        if answer.status_code not in (200, 202, 404):
            answer.raise_for_status()

    def list(self, path: str, **params: str) -> list[dict[str, object]]:
        return list(self.http.get(path, params=params).raise_for_status().json()["items"])


def wait_until(
    what: str, check: Callable[[], T | None], *, timeout: float, explain: Callable[[], str] | None = None
) -> T:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` (and ``explain()``) after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}" + (f"\n{explain()}" if explain else ""))
        time.sleep(0.5)


# --- what the tests apply, and how they compare it with what the server stored ------------------------------


def rendered(catalog_path: Path) -> list[dict[str, Any]]:
    groups, _ = render_kubernetes(load_catalog(catalog_path))
    return [obj for objects in groups.values() for obj in objects]


def missing_or_changed(rendered_value: Any, live: Any, path: str = "") -> list[str]:
    """Where the live object lacks or differs from what we rendered (the server may add, never change)."""
    if isinstance(rendered_value, dict):
        if not isinstance(live, dict):
            return [f"{path}: rendered a map, stored {live!r}"]
        return [
            problem
            for key, value in rendered_value.items()
            for problem in missing_or_changed(value, live.get(key), f"{path}.{key}")
        ]
    if isinstance(rendered_value, list):
        if not isinstance(live, list) or len(live) != len(rendered_value):
            return [f"{path}: rendered {rendered_value!r}, stored {live!r}"]
        return [
            p
            for i, (r, s) in enumerate(zip(rendered_value, live, strict=True))
            for p in missing_or_changed(r, s, f"{path}[{i}]")
        ]
    return [] if rendered_value == live else [f"{path}: rendered {rendered_value!r}, stored {live!r}"]
