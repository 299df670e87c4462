"""A real node for the test control plane: Debian's containerd (CRI) and CNI plugins, and a kubelet built by
scripts/build-kube.sh. Pods run the local mock image (busybox + aipair's serve script, imported into
containerd); images from public registries cannot be pulled here, so their pods show a real ImagePullBackOff.

The node is tainted (TAINT): only pods that tolerate it run on it, so the catalogs the other tests apply stay
Pending, as they would on a cluster without room for them. What it took on this machine kind (cgroup v1
hybrid, a VM that forbids lowering oom_score_adj): `failCgroupV1: false`, `cgroupsPerQOS: false`, and
containerd's `restrict_oom_score_adj`.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from aipair.engines.mockimage import find_busybox, rootfs_tar
from aipair.render.mock import MOCK_IMAGE

from .kube import READY_TIMEOUT, ControlPlane
from .registry import free_port

NODE_NAME = "aipair-test-node"
TAINT_KEY = "aipair.test/node"
TOLERATION = {"key": TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}
PAUSE_IMAGE = "localhost/aipair-pause:1"
POD_CIDR = "10.244.0.0/24"
NEEDED = {
    "containerd": "containerd",
    "ctr": "containerd",
    "runc": "runc",
    "/usr/lib/cni/bridge": "containernetworking-plugins",
}


def missing_packages() -> list[str]:
    return sorted({pkg for tool, pkg in NEEDED.items() if not (shutil.which(tool) or Path(tool).exists())})


def image_archive(tag: str, entrypoint: list[str]) -> bytes:
    """A one-layer image in the docker-archive format `ctr images import` reads, from the mock root filesystem."""
    layer = rootfs_tar(find_busybox())
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Entrypoint": entrypoint, "Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
        }
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": ["layer.tar"]}]).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in ((config_name, config), ("layer.tar", layer), ("manifest.json", manifest)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


@dataclass
class Node:
    base: Path
    processes: dict[str, subprocess.Popen[bytes]]

    def _end(self, name: str) -> None:
        _end_process(self.processes.get(name))

    def _end_containers(self) -> None:
        """Every container the kubelet left, and its shim: a shim outlives containerd otherwise."""
        socket_path = self.base / "containerd.sock"
        ctr = ["ctr", "--address", str(socket_path), "--namespace", "k8s.io"]
        if socket_path.exists():
            tasks = subprocess.run([*ctr, "tasks", "ls", "-q"], capture_output=True, text=True, check=False).stdout
            for task in tasks.split():
                subprocess.run(
                    [*ctr, "tasks", "kill", "--all", "--signal", "SIGKILL", task], capture_output=True, check=False
                )
            for task in tasks.split():
                subprocess.run([*ctr, "tasks", "rm", "--force", task], capture_output=True, check=False)
        subprocess.run(["pkill", "-KILL", "-f", f"containerd-shim.*-address {socket_path}"], check=False)

    def log(self, name: str) -> str:
        path = self.base / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        self._end("kubelet")
        self._end_containers()
        self._end("containerd")
        # the kubelet's and containerd's mounts (pod volumes, sandboxes' shm, overlay roots) go before the files
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        for mount in sorted((m for m in mounts if m.startswith(str(self.base))), reverse=True):
            subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
        subprocess.run(["ip", "link", "delete", "aipair-cni0"], check=False, capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)


def _end_process(process: subprocess.Popen[bytes] | None) -> None:
    if process and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _start(node: Node, name: str, args: list[str]) -> None:
    log = open(node.base / f"{name}.log", "wb")  # the process owns it until it ends
    node.processes[name] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def start_node(plane: ControlPlane) -> Node:
    missing = missing_packages()
    if missing:
        raise RuntimeError(f"the test node needs: apt-get install -y {' '.join(missing)} (scripts/test-deps.sh)")
    base = Path(tempfile.mkdtemp(prefix="aipair-node-", dir="/tmp"))
    node = Node(base, {})
    try:
        (base / "cni").mkdir()
        (base / "cni" / "10-aipair.conflist").write_text(
            json.dumps(
                {
                    "cniVersion": "0.4.0",
                    "name": "aipair-test",
                    "plugins": [
                        {
                            "type": "bridge",
                            "bridge": "aipair-cni0",
                            "isGateway": True,
                            "ipMasq": True,
                            "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_CIDR}]]},
                        },
                        {"type": "portmap", "capabilities": {"portMappings": True}},
                    ],
                }
            )
        )
        containerd_socket = base / "containerd.sock"
        (base / "containerd.toml").write_text(
            f"""version = 2
root = "{base / "containerd-root"}"
state = "{base / "containerd-state"}"
[grpc]
  address = "{containerd_socket}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  # this VM refuses a negative oom_score_adj, which the kubelet asks for its sandboxes
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{base / "cni"}"
"""
        )
        _start(node, "containerd", ["containerd", "--config", str(base / "containerd.toml")])
        deadline = time.monotonic() + READY_TIMEOUT
        while not containerd_socket.exists():
            if node.processes["containerd"].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"containerd did not start:\n{node.log('containerd')}")
            time.sleep(0.2)
        ctr = ["ctr", "--address", str(containerd_socket), "--namespace", "k8s.io"]
        for tag, entrypoint in ((PAUSE_IMAGE, ["/bin/sleep", "2147483647"]), (MOCK_IMAGE, ["/bin/sh", "/mock/serve"])):
            subprocess.run(
                [*ctr, "images", "import", "-"], input=image_archive(tag, entrypoint), check=True, capture_output=True
            )
        (base / "kubelet.yaml").write_text(
            json.dumps(
                {
                    "apiVersion": "kubelet.config.k8s.io/v1beta1",
                    "kind": "KubeletConfiguration",
                    "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": False}},
                    "authorization": {"mode": "AlwaysAllow"},
                    "address": "127.0.0.1",
                    "port": free_port(),
                    "readOnlyPort": 0,
                    "healthzPort": 0,
                    "cgroupDriver": "cgroupfs",
                    "failCgroupV1": False,
                    "cgroupsPerQOS": False,
                    "enforceNodeAllocatable": [],
                    "failSwapOn": False,
                    "containerRuntimeEndpoint": f"unix://{containerd_socket}",
                    "resolvConf": "/etc/resolv.conf",
                    "evictionHard": {"memory.available": "100Mi"},
                    "imageGCHighThresholdPercent": 100,
                    "imageGCLowThresholdPercent": 99,
                    "registerWithTaints": [{"key": TAINT_KEY, "value": "only", "effect": "NoSchedule"}],
                }
            )
        )
        _start(node, "kubelet", [
            str(plane.bin / "kubelet"), "--config", str(base / "kubelet.yaml"), "--kubeconfig", str(plane.kubeconfig),
            "--root-dir", str(base / "kubelet"), "--cert-dir", str(base / "pki"), "--hostname-override", NODE_NAME,
        ])  # fmt: skip
        with plane.client() as http:
            while True:
                answer = http.get(f"/api/v1/nodes/{NODE_NAME}")
                if answer.status_code == 200 and any(
                    c["type"] == "Ready" and c["status"] == "True"
                    for c in answer.json()["status"].get("conditions", [])
                ):
                    break
                for name, process in node.processes.items():
                    if process.poll() is not None:
                        raise RuntimeError(f"{name} exited ({process.returncode}):\n{node.log(name)}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the node was not Ready within {READY_TIMEOUT:.0f} s:\n{node.log('kubelet')}")
                time.sleep(0.5)
    except BaseException:
        node.stop()
        raise
    return node
