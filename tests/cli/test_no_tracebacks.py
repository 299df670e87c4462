"""No command ends in a Python traceback, and `--json` always leaves a JSON document on stdout.

Each case is an exception nothing in the command mapped: an operating-system error, a file that is
not UTF-8, a server answer of an unexpected shape, a URL httpx refuses, a usage error, Ctrl-C. The
commands run for real (in-process through the Typer app, or as a real `python -m aipair` process for
Ctrl-C and a closed pipe), against real files and a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ..helpers.commands import interruptible, invoke
from ..helpers.paths import DEFAULT_CATALOG, ROOT

INTERNAL = 70
INTERRUPTED = 130


class OddKestra(BaseHTTPRequestHandler):
    """A server that answers Kestra's paths in shapes aipair does not expect (a TEST of robustness, not
    a model of Kestra): a list of strings for a validation, an execution id httpx cannot put in a URL,
    and executions that never end (for Ctrl-C)."""

    requests: ClassVar[list[str]] = []

    def log_message(self, *_: Any) -> None:
        pass

    def _send(self, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        OddKestra.requests.append(self.path)
        if self.path.startswith("/api/v1/configs"):
            return self._send({"version": "0.22.0"})
        return self._send({"id": "forever", "state": {"current": "RUNNING"}, "taskRunList": []})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/api/v1/flows/validate"):
            return self._send(["not an object"])
        if self.path.startswith("/api/v1/executions/ns/badid"):
            return self._send({"id": "bad\x1bid", "state": {"current": "CREATED"}})
        return self._send({"id": "forever", "state": {"current": "CREATED"}})


@pytest.fixture(scope="module")
def odd_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), OddKestra)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _check(result: Any, code: int, json_output: bool, *words: str) -> str:
    """Exit ``code``, no exception escaped, one message (JSON error on stdout with --json); the message."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    if json_output:
        document = json.loads(result.stdout)
        assert list(document) == ["ok", "error"] and document["ok"] is False
        message = str(document["error"])
    else:
        message = result.stderr.strip()
        assert message.startswith("✗ ") and "\n" not in message, message
    for word in words:
        assert word in message, message
    return message


@pytest.mark.parametrize("json_output", [False, True])
def test_a_flow_file_that_is_not_utf8(tmp_path: Path, json_output: bool) -> None:
    binary = tmp_path / "flow.yml"
    binary.write_bytes(b"id: f\n\xff\xfe\x81 binary")
    result = invoke(["flows", "validate", str(binary), *(["--json"] if json_output else [])], env={})
    _check(result, 2, json_output, "not UTF-8")


@pytest.mark.parametrize("json_output", [False, True])
def test_writing_under_a_path_that_is_a_file(tmp_path: Path, json_output: bool) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    args = ["flows", "render", "--catalog", str(DEFAULT_CATALOG), "--out", str(blocker / "sub")]
    result = invoke([*args, *(["--json"] if json_output else [])], env={})
    _check(result, 1, json_output, "Not a directory", str(blocker))


@pytest.mark.parametrize("json_output", [False, True])
def test_a_read_only_directory(tmp_path: Path, json_output: bool) -> None:
    """A read-only bind mount behaves the same for root; here the write fails on a directory made read-only."""
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    if os.access(out, os.W_OK):  # root ignores the mode: make the target a directory where a file must go
        out.chmod(0o700)
        (out / "kestra-flows").mkdir()
        (out / "kestra-flows" / "validate-candidate.yml").mkdir()
    args = ["flows", "render", "--catalog", str(DEFAULT_CATALOG), "--out", str(out)]
    result = invoke([*args, *(["--json"] if json_output else [])], env={})
    _check(result, 1, json_output, str(out))


@pytest.mark.parametrize("json_output", [False, True])
def test_a_server_answer_of_an_unexpected_shape_is_an_internal_error(
    odd_server: str, tmp_path: Path, json_output: bool
) -> None:
    flow = tmp_path / "flow.yml"
    flow.write_text("id: f\nnamespace: ns\ntasks: []\n")
    args = ["flows", "validate", str(flow), "--server", odd_server, *(["--json"] if json_output else [])]
    message = _check(invoke(args, env={}), INTERNAL, json_output, "internal error", "AIPAIR_DEBUG=1", "report")
    assert "AttributeError" in message


def test_the_traceback_only_when_asked_for_and_stdout_stays_json(odd_server: str, tmp_path: Path) -> None:
    flow = tmp_path / "flow.yml"
    flow.write_text("id: f\nnamespace: ns\ntasks: []\n")
    result = invoke(["flows", "validate", str(flow), "--server", odd_server, "--json"], env={"AIPAIR_DEBUG": "1"})
    assert result.exit_code == INTERNAL
    assert "Traceback" in result.stderr and "AttributeError" in result.stderr
    assert json.loads(result.stdout)["ok"] is False


@pytest.mark.parametrize("json_output", [False, True])
def test_a_url_httpx_refuses_is_a_network_error(odd_server: str, json_output: bool) -> None:
    args = ["flows", "run", "ns.badid", "--catalog", str(DEFAULT_CATALOG), "--server", odd_server, "--wait", "5"]
    result = invoke([*args, *(["--json"] if json_output else [])], env={})
    _check(result, 3, json_output, "network error")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["catalog", "show", "--bogus"], ["--bogus"]),
        (["catalog", "validate", "--catalog", "/"], ["is a directory"]),
        (["flows", "run", "x", "--wait", "0"], ["--wait"]),
    ],
)
def test_usage_errors_with_json_are_json(args: list[str], words: list[str]) -> None:
    result = invoke([*args, "--json"], env={})
    _check(result, 2, True, *words)


def test_usage_errors_without_json_keep_clicks_help() -> None:
    result = invoke(["catalog", "show", "--bogus"], env={})
    assert result.exit_code == 2 and "No such option" in result.stderr and "for help" in result.stderr


def _aipair(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "cli")}
    return subprocess.Popen(
        [sys.executable, "-m", "aipair", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=interruptible,
    )


@pytest.mark.parametrize("json_output", [False, True])
def test_ctrl_c_exits_130_with_one_line(odd_server: str, json_output: bool) -> None:
    """A real process and a real SIGINT while it follows an execution that never ends."""
    OddKestra.requests.clear()
    process = _aipair(
        "flows", "run", "ns.forever", "--catalog", str(DEFAULT_CATALOG), "--server", odd_server,
        *(["--json"] if json_output else []),
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not any(path.startswith("/api/v1/executions/forever") for path in OddKestra.requests):
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == INTERRUPTED, (stdout, stderr)
    assert "Traceback" not in stderr
    message = json.loads(stdout)["error"] if json_output else stderr
    assert "interrupted" in message


def test_a_closed_pipe_ends_quietly() -> None:
    """`aipair … | true`: the reader has left before aipair writes; no traceback, no 'Exception ignored'."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "cli")}
    for args in ("catalog graph --json", "catalog list"):
        command = f"{sys.executable} -m aipair {args} --catalog {DEFAULT_CATALOG} | true"
        done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, env=env, timeout=60)
        assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
