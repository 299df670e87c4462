"""Shell scripts on this host or on another one over ssh (`--host ssh://user@host[:port]`), and programs
run on this host bounded in time and output (`run_bounded`)."""

from __future__ import annotations

import contextlib
import os
import selectors
import shlex
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
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


# After the program ends, how long its output is still read (what it wrote last, still in the pipe).
ENDED_GRACE = 0.2


@dataclass(frozen=True)
class Finished:
    """How a bounded program ended: ``returncode`` None when it was killed at its timeout."""

    returncode: int | None
    output: str  # the last characters of stdout and stderr, interleaved as written


def run_bounded(argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, timeout: float, keep: int = 300) -> Finished:
    """Run ``argv`` (no shell) on this host; after ``timeout`` seconds it is killed with its whole process
    group (what it started too). Only the last ``keep`` characters of its output are kept, however much
    it writes, so a chatty or hostile program costs neither time nor memory. OSError when it cannot start."""
    process = subprocess.Popen(
        list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env=dict(env), cwd=cwd, start_new_session=True,
    )  # fmt: skip
    assert process.stdout is not None
    tail = b""
    deadline = time.monotonic() + timeout
    timed_out = False
    ended_at: float | None = None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break  # the wait below says whether the program itself was still running
            if ended_at is None and process.poll() is not None:
                ended_at = time.monotonic()
            if ended_at is not None and time.monotonic() - ended_at > ENDED_GRACE:
                break  # it ended; what it left running in the background still writes: its verdict stands
            if not selector.select(min(left, 0.2)):
                if process.poll() is not None:  # it ended; what it left running in the background holds the pipe
                    break
                continue
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:  # every writer closed the pipe
                break
            tail = (tail + chunk)[-4 * keep :]  # up to 4 bytes a character
    try:
        process.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        timed_out = True
    with contextlib.suppress(ProcessLookupError, PermissionError):  # at the timeout the program; always
        os.killpg(process.pid, signal.SIGKILL)  # whatever it left running in its group
    process.wait()
    process.stdout.close()
    return Finished(None if timed_out else process.returncode, tail.decode("utf-8", "replace")[-keep:])
