"""Shell scripts on this host or on another one over ssh (`--host ssh://user@host[:port]`)."""

from __future__ import annotations

import shlex
import subprocess
from urllib.parse import urlparse

from ..errors import UsageError

SSH_UNREACHABLE = 255  # ssh's own exit code when it cannot connect


class Shell:
    """Runs ``sh -c SCRIPT`` locally, or through the ssh binary (BatchMode: never asks for a password)."""

    def __init__(self, host: str | None = None) -> None:
        self.host = host
        self._prefix = self._command(host)

    @property
    def remote(self) -> bool:
        return self._prefix[0] == "ssh"

    @staticmethod
    def _command(host: str | None) -> list[str]:
        if not host:
            return ["sh", "-c"]
        parsed = urlparse(host)
        if parsed.scheme != "ssh" or not parsed.hostname:
            raise UsageError(f"--host must look like ssh://user@host[:port], not {host!r}")
        target = f"{parsed.username + '@' if parsed.username else ''}{parsed.hostname}"
        return ["ssh", *(["-p", str(parsed.port)] if parsed.port else []), "-o", "BatchMode=yes", target, "sh", "-c"]

    def run(self, script: str, *, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        # ssh joins its arguments into one remote command line, so the script is quoted for the remote shell.
        argument = shlex.quote(script) if self.remote else script
        return subprocess.run([*self._prefix, argument], capture_output=True, text=True, timeout=timeout)
