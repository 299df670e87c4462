"""The catalog the upgrade-validation tests deploy, and what a throw-away project may leave behind."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from .paths import ROOT


def validate_catalog(tmp_path: Path, address: str, project: str = "up") -> Path:
    """cache 1.0.0 and web 1.0.0 from the registry at `address` (the `images` fixture), with smoke tests;
    `project` names the throw-away projects (`<project>-validate-web`): one per concurrent user."""
    health = {
        "type": "http",
        "port": 8000,
        "path": "/healthz",
        "probe": "wget",
        "interval": "1s",
        "retries": 5,
        "start_period": "1s",
        "timeout": "2s",
    }
    data = {
        "version": 1,
        "project": {"name": project, "domain": "up.example.com", "tls": {"acme_email": "o@up.example.com"}},
        "services": {
            "cache": {
                "layer": "data",
                "kind": "stateful",
                "mock": False,
                "init": True,
                "image": f"{address}/aipair/cache:1.0.0",
                "ports": [{"port": 8000}],
                "health": health,
                "volumes": [{"name": "data", "path": "/data"}],
            },
            "web": {
                "layer": "application",
                "mock": False,
                "init": True,
                "image": f"{address}/aipair/web:1.0.0",
                "ports": [{"port": 8000, "publish": 18200}],
                "health": health,
                "depends_on": ["cache"],
                "smoke": [
                    {"name": "healthz", "http": "/healthz", "contains": "ok v1"},
                    {"name": "shell", "command": ["cat", "/www/healthz"], "contains": "ok"},
                    {"name": "port", "tcp": 8000},
                ],
            },
        },
    }
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def leftovers(client: Any, project: str) -> list[str]:
    """Containers, networks and volumes still labelled with the Compose project."""
    label = {"label": f"com.docker.compose.project={project}"}
    return (
        [c.name for c in client.containers.list(all=True, filters=label)]
        + [n.name for n in client.networks.list(filters=label)]
        + [v.name for v in client.volumes.list(filters=label)]
    )


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def platform_repository(tmp: Path, address: str, kestra: dict[str, Any], project: str = "up") -> tuple[Path, Path]:
    """The catalog the Kestra flows clone (validate_catalog's, with ``kestra`` as project.kestra and the
    repository's own .gitignore), committed in ``tmp/work`` and cloned bare to ``tmp/platform.git``."""
    work = tmp / "work"
    work.mkdir()
    catalog = validate_catalog(work, address, project)
    data = yaml.safe_load(catalog.read_text())
    bare = tmp / "platform.git"
    data["project"]["kestra"] = {"repository": str(bare), **kestra}
    catalog.write_text(yaml.safe_dump(data, sort_keys=False))
    (work / ".gitignore").write_text(ROOT.joinpath(".gitignore").read_text())
    git("init", "--quiet", "--initial-branch", "main", cwd=work)
    git("add", "--all", cwd=work)
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "catalog", cwd=work)
    git("clone", "--quiet", "--bare", str(work), str(bare), cwd=tmp)
    return catalog, bare


def validate_args(catalog: Path, version: str, report_file: Path) -> list[str]:
    """`aipair upgrade validate web VERSION` of validate_catalog's ``catalog``, its JSON report in ``report_file``."""
    command = ["upgrade", "validate", "web", version, "--catalog", str(catalog), "--report", str(report_file)]
    return [*command, "--timeout", "60"]


def validate_flow_args(catalog: Path, version: str) -> list[str]:
    """`aipair flows run validate-candidate` for web at ``version`` (--json), on platform_repository's ``catalog``."""
    command = ["flows", "run", "validate-candidate", "--catalog", str(catalog), "-i", "service=web"]
    return [*command, "-i", f"version={version}", "--json"]
