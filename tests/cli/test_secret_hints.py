"""No hint puts a secret on a command line, and no command's output shows a secret value.

A secret typed into a command line is kept in the shell's history and visible to every user in `ps`;
aipair's hints therefore read secrets from a file, stdin or a prompt that does not show them, and
name environment variables without values. Two kinds of test: every string in aipair's sources and
docs is scanned for the command-line forms that carry a secret; and real commands run with secret
values known to the test (in compose/.env and the environment) must never print them.
"""

from __future__ import annotations

import ast
import json
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..helpers.catalogs import minimal
from ..helpers.commands import invoke
from ..helpers.paths import DEFAULT_CATALOG, ROOT

SECRET_ON_A_COMMAND_LINE = {
    "a value after a secret config key": re.compile(r"config set --secret \S+ (?!--|<|\|)\S"),
    "docker login with a password": re.compile(r"docker login\b[^`\n]*\s(-p|--password)(\s|=)"),
    "a --password option with a value": re.compile(r"--password(=|\s+)(?!-)\S"),
    "curl with user:password": re.compile(r"curl\b[^`\n]*\s-u\s*\S+:\S"),
    "a secret assigned on the command line": re.compile(
        r"\b[A-Z][A-Z0-9_]*(PASSWORD|TOKEN|SECRET|SECRET_KEY|PASSPHRASE|API_KEY)=[^\s`'\"{]"
    ),
    "a password inside a URL": re.compile(r"://[^/\s:@]*:(?![$*{])[^/\s@]+@"),
}


def _strings(source: str) -> Iterator[tuple[int, str]]:
    """Every string literal of a module (f-strings with their holes as {x}), docstrings left out."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            yield node.lineno, "".join(v.value if isinstance(v, ast.Constant) else "{x}" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def offending(text: str) -> list[str]:
    return [name for name, pattern in SECRET_ON_A_COMMAND_LINE.items() if pattern.search(text)]


@pytest.mark.parametrize(
    "hint",
    [
        "pulumi config set --secret aipair:API_KEY VALUE --stack dev",
        "pulumi config set --secret aipair:kubeconfig … --stack dev",
        "run `docker login -p hunter2 ghcr.io`",
        "mysql --password=hunter2",
        "curl -u admin:hunter2 http://localhost:8080/api/v1/flows",
        "export KESTRA_PASSWORD=hunter2",
        "git clone https://bot:hunter2@git.example/repo",
    ],
)
def test_the_scan_recognises_a_secret_on_a_command_line(hint: str) -> None:
    assert offending(hint)


@pytest.mark.parametrize(
    "hint",
    [
        "pulumi config set --secret aipair:API_KEY --stack dev < FILE",
        "run `docker login ghcr.io` (it asks for the password)",
        "docker login --password-stdin ghcr.io < token.txt",
        "set KESTRA_USER and KESTRA_PASSWORD",
        "PULUMI_CONFIG_PASSPHRASE_FILE=/srv/stacks/.passphrase pulumi stack ls",
        "postgres://app:${APP_DB_PASSWORD}@postgres:5432/app",
    ],
)
def test_the_scan_accepts_forms_that_keep_the_secret_off_the_command_line(hint: str) -> None:
    assert not offending(hint)


def _sources() -> list[Path]:
    return sorted((ROOT / "cli" / "aipair").rglob("*.py"))


@pytest.mark.parametrize("path", _sources(), ids=lambda path: str(path.relative_to(ROOT / "cli")))
def test_no_message_or_hint_in_the_code_puts_a_secret_on_a_command_line(path: Path) -> None:
    found = [(line, text, offending(text)) for line, text in _strings(path.read_text()) if offending(text)]
    assert not found, found


def test_no_documentation_puts_a_secret_on_a_command_line() -> None:
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), ROOT / "catalog.yaml"]
    found = [
        (str(path.relative_to(ROOT)), number, line)
        for path in documents
        if path.exists()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if offending(line)
    ]
    assert not found, found


KNOWN = {"API_TOKEN": "supplied-Secret-7f3a", "CACHE_PASSWORD": "generated-Secret-91bc"}
ENVIRONMENT = {
    "KESTRA_USER": "ops",
    "KESTRA_PASSWORD": "kestra-Secret-55d1",
    "KESTRA_API_TOKEN": "kestra-Token-0c9e",
    "PULUMI_CONFIG_PASSPHRASE": "passphrase-Secret-3e21",
}


class Refusing(BaseHTTPRequestHandler):
    """A Kestra that refuses every credential (401), so aipair explains what to set."""

    def log_message(self, *_: Any) -> None:
        pass

    def do_GET(self) -> None:
        data = json.dumps({"version": "0.22.0"} if self.path.startswith("/api/v1/configs") else {}).encode()
        self.send_response(200 if self.path.startswith("/api/v1/configs") else 401)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def refusing() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_no_command_prints_a_secret_value(tmp_path: Path, refusing: str) -> None:
    """Secrets in compose/.env and in the environment; every output of the commands is searched for them."""
    data = minimal()
    data["project"]["kestra"] = yaml.safe_load(DEFAULT_CATALOG.read_text())["project"]["kestra"]
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(yaml.safe_dump(data))
    (tmp_path / "compose").mkdir()
    (tmp_path / "compose" / ".env").write_text("".join(f"{name}={value}\n" for name, value in KNOWN.items()))
    closed = f"http://ops:{ENVIRONMENT['KESTRA_PASSWORD']}@127.0.0.1:{_closed_port()}"
    docker = f"tcp://ops:{ENVIRONMENT['KESTRA_PASSWORD']}@127.0.0.1:{_closed_port()}"
    c = ["--catalog", str(catalog)]
    commands = [
        ["render", *c],
        ["render", *c, "--json"],
        ["render", "--check", *c],
        ["catalog", "validate", *c, "--json"],
        ["catalog", "show", "web", *c],
        ["catalog", "show", "web", *c, "--json"],
        ["flows", "status", *c, "--server", refusing],
        ["flows", "status", *c, "--server", refusing, "--json"],
        ["flows", "status", *c, "--server", closed, "--timeout", "2"],
        ["flows", "status", *c, "--server", closed, "--timeout", "2", "--json"],
        ["status", *c, "--host", docker],
        ["status", *c, "--host", docker, "--json"],
    ]
    secrets = [*KNOWN.values(), *(value for name, value in ENVIRONMENT.items() if name != "KESTRA_USER")]
    for args in commands:
        result = invoke(args, env=ENVIRONMENT)
        shown = result.stdout + result.stderr
        assert not [secret for secret in secrets if secret in shown], (args, shown)
    assert "KESTRA_PASSWORD" in invoke(["flows", "status", *c, "--server", refusing], env=ENVIRONMENT).stderr
