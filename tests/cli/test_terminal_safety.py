"""Text from outside never drives the terminal: no control sequence and no rich markup from a server,
a container log or a file reaches stdout/stderr as such; `--json` stays valid JSON with the text intact.

The server here is a real HTTP server on 127.0.0.1 (a HOSTILE Kestra: every text field it answers
carries terminal escapes and rich markup); the commands run for real through the Typer app.
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from aipair.cli.output import escape, make_console
from aipair.cli.sanitize import terminal_safe
from aipair.redact import redact_urls_in

from ..helpers.catalogs import minimal
from ..helpers.commands import invoke
from ..helpers.hostile_http import HostileServer, Reply, Seen
from ..helpers.paths import DEFAULT_CATALOG

# Window title (OSC 0), clear screen (CSI 2J), an OSC 8 hyperlink, carriage-return and backspace
# overwrites, a bell, a one-byte C1 CSI, a right-to-left override, and rich markup (a link, a stray close).
VARIANTS = {
    "title": "\x1b]0;owned\x07",
    "clear": "\x1b[2J\x1b[H",
    "hyperlink": "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\",
    "overwrite": "rm -rf /\rall fine\x08\x08",
    "bell": "\x07\x07",
    "c1": "\x9b31m",
    "bidi": "\u202eexe.txt",
    "markup": "[link=https://evil.example]here[/link] [/] [bold red]",
}
HOSTILE = "start " + " ".join(VARIANTS.values()) + " end"
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def assert_terminal_safe(*texts: str) -> None:
    for text in texts:
        found = FORBIDDEN.findall(text)
        assert not found, f"control characters reached the terminal: {found!r} in {text!r}"


class HostileKestra(BaseHTTPRequestHandler):
    """Answers Kestra's REST paths with HOSTILE in every text field (and a 500 for a namespace's flows)."""

    def log_message(self, *_: Any) -> None:
        pass

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _execution(self) -> dict[str, Any]:
        return {
            "id": "ex1",  # used in the next request's path: httpx refuses control characters there
            "namespace": "ns",
            "flowId": "flow",
            "state": {"current": "FAILED", "startDate": HOSTILE},
            "outputs": {"out" + HOSTILE: HOSTILE},
            "taskRunList": [{"taskId": "task" + HOSTILE, "state": {"current": "FAILED"}, "value": HOSTILE}],
        }

    def do_GET(self) -> None:
        if self.path.startswith("/api/v1/configs"):
            return self._send(200, {"version": "0.22.0"})
        if self.path.startswith("/api/v1/executions/"):
            return self._send(200, self._execution())
        if re.fullmatch(r"/api/v1/flows/[^/?]+", self.path):  # a namespace's flows: one the catalog does not render
            return self._send(200, [{"id": "stale" + HOSTILE, "namespace": "ns", "revision": 1}])
        if self.path.startswith("/api/v1/logs/"):
            return self._send(200, [{"taskId": "task" + HOSTILE, "level": "ERROR", "message": HOSTILE}])
        return self._send(500, {"message": HOSTILE, "_embedded": {"errors": [{"message": "nested " + HOSTILE}]}})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/api/v1/flows/validate"):
            entry = {
                "index": 0,
                "flow": "f" + HOSTILE,
                "namespace": "ns",
                "constraints": HOSTILE + "\nsecond " + HOSTILE,
            }
            return self._send(200, [{**entry, "warnings": [HOSTILE], "deprecationPaths": [HOSTILE]}])
        if self.path.startswith("/api/v1/executions/"):
            return self._send(200, self._execution())
        return self._send(500, {"message": HOSTILE})


@pytest.fixture(scope="module")
def hostile_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), HostileKestra)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _flow_file(tmp_path: Path) -> Path:
    path = tmp_path / "flow.yml"
    path.write_text("id: flow\nnamespace: ns\ntasks: []\n")
    return path


def test_server_validation_errors_are_shown_without_their_escapes(hostile_server: str, tmp_path: Path) -> None:
    result = invoke(["flows", "validate", str(_flow_file(tmp_path)), "--server", hostile_server], env={})
    assert result.exit_code == 1, result.output
    assert_terminal_safe(result.stdout, result.stderr)
    assert "\\x1b]0;owned" in result.stdout  # still readable, as a visible escape (rich drops the bell)
    assert "[link=https://evil.example]here[/link] [/]" in result.stdout  # markup printed, not obeyed


def test_server_error_messages_are_shown_without_their_escapes(hostile_server: str) -> None:
    result = invoke(["flows", "status", "--catalog", str(DEFAULT_CATALOG), "--server", hostile_server], env={})
    assert result.exit_code == 1, result.output
    assert_terminal_safe(result.stdout, result.stderr)
    assert "start" in result.stderr and "end" in result.stderr


def test_execution_tasks_outputs_and_logs_are_shown_without_their_escapes(hostile_server: str) -> None:
    result = invoke(
        ["flows", "run", "ns.flow", "--catalog", str(DEFAULT_CATALOG), "--server", hostile_server, "--wait", "5"],
        env={},
    )
    assert result.exit_code == 1, (result.output, result.exception)
    assert_terminal_safe(result.stdout, result.stderr)
    assert "ended FAILED" in result.stdout


def test_a_question_about_the_servers_flows_is_asked_without_their_escapes(hostile_server: str) -> None:
    """`flows register --prune` lists the server's stale flows in its question before deleting them."""
    result = invoke(
        ["flows", "register", "--prune", "--catalog", str(DEFAULT_CATALOG), "--server", hostile_server],
        env={},
        input="n\n",
    )
    assert "Delete them?" in result.stdout, (result.output, result.exception)
    assert_terminal_safe(result.stdout, result.stderr)


@pytest.mark.parametrize(
    "command",
    [
        ["flows", "validate", "FLOW"],
        ["flows", "status", "--catalog", str(DEFAULT_CATALOG)],
        ["flows", "run", "ns.flow", "--catalog", str(DEFAULT_CATALOG), "--wait", "5"],
    ],
)
def test_json_keeps_the_servers_text_intact_and_valid(hostile_server: str, tmp_path: Path, command: list[str]) -> None:
    """`--json` is for programs: the exact text, with JSON's own escapes, and nothing else on stdout."""
    args = [str(_flow_file(tmp_path)) if part == "FLOW" else part for part in command]
    result = invoke([*args, "--server", hostile_server, "--json"], env={})
    assert result.exit_code == 1, result.output
    assert_terminal_safe(result.stdout)  # json.dumps escapes every control character
    assert any(HOSTILE in text for text in _strings(json.loads(result.stdout)))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def test_a_changed_file_shown_as_a_diff_is_shown_without_its_escapes(tmp_path: Path) -> None:
    """`render --check` shows what differs in a file on disk: its contents are not trusted either."""
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(yaml.safe_dump(minimal()))
    assert invoke(["render", "--catalog", str(catalog)], env={}).exit_code == 0
    compose = next((tmp_path / "compose").glob("*.yml"))
    compose.write_text(compose.read_text() + f"# {HOSTILE}\n")
    result = invoke(["render", "--check", "--catalog", str(catalog)], env={})
    assert result.exit_code == 1, result.output
    assert_terminal_safe(result.stdout, result.stderr)
    assert "owned" in result.stderr


def test_a_catalog_problem_echoing_a_value_is_shown_without_its_escapes(tmp_path: Path) -> None:
    data = minimal()
    data["services"]["web"]["image"] = "web" + HOSTILE
    data["services"]["web"]["layer"] = "x" + HOSTILE
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(yaml.safe_dump(data))
    result = invoke(["catalog", "validate", "--catalog", str(catalog)], env={})
    assert result.exit_code == 2, result.output
    assert_terminal_safe(result.stdout, result.stderr)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_a_real_terminal_gets_rich_colours_but_none_of_the_texts_sequences(name: str) -> None:
    """On a terminal rich writes its own colour codes (SGR); the text's sequences come out as escapes."""
    from rich.table import Table

    buffer = io.StringIO()
    console = make_console(file=buffer, force_terminal=True, color_system="truecolor", width=200)
    table = Table("cell")
    table.add_row(escape(VARIANTS[name]))
    console.print(f"[red]x[/] {escape(VARIANTS[name])}")
    console.print(table)
    console.print("[link=https://evil.example]markup that slipped through unescaped[/link]")
    printed = buffer.getvalue()
    assert "\x1b[31m" in printed  # our own colour still works
    without_sgr = re.sub(r"\x1b\[[0-9;]*m", "", printed)
    assert_terminal_safe(without_sgr)
    assert "\x1b]8;" not in printed  # no hyperlink, not even one rich would write for [link=…]


def test_terminal_safe_leaves_ordinary_text_alone() -> None:
    text = "naïve café ✓ → 日本語\ttab\nnewline [dim]"
    assert terminal_safe(text) == text
    assert terminal_safe("a\r\nb") == "a\nb"
    assert terminal_safe("\x1b[2J") == "\\x1b[2J"


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_credentials_in_a_server_url_are_not_echoed_in_errors(json_flag: list[str]) -> None:
    """The server's URL is repeated in error messages: its password is not. (A server that refuses the
    credentials answers at once; an unreachable one is retried for seconds: test_kestra_hostile.py has it.)"""

    def refusing(reply: Reply, seen: Seen) -> None:
        reply.json(401, {"message": "Unauthorized"})

    with HostileServer(refusing) as kestra:
        server = f"http://ops:s3cret-Pa55@{kestra.address}"
        result = invoke(
            ["flows", "status", "--catalog", str(DEFAULT_CATALOG), "--server", server, "--timeout", "2", *json_flag],
            env={},
        )
        assert kestra.authorizations(), "the credentials from the URL went to Kestra itself"
    assert result.exit_code == 3, result.output
    assert "s3cret-Pa55" not in result.stdout + result.stderr
    assert kestra.url in (json.loads(result.stdout)["error"] if json_flag else result.stderr)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://user:s3cret@git.example/repo.git", "https://***@git.example/repo.git"),
        ("clone https://ghp_token123@github.com/o/r failed", "clone https://***@github.com/o/r failed"),
        ("postgres://app:${APP_DB_PASSWORD}@db:5432/app", "postgres://app:${APP_DB_PASSWORD}@db:5432/app"),
        ("redis://:hunter2@cache:6379/0", "redis://***@cache:6379/0"),
        ("mail ops@example.com, see https://example.com/a@b", "mail ops@example.com, see https://example.com/a@b"),
    ],
)
def test_credentials_in_urls_are_hidden_and_placeholders_kept(text: str, shown: str) -> None:
    assert redact_urls_in(text) == shown


def test_upgrade_tables_show_registry_and_engine_text_as_text(capsys: pytest.CaptureFixture[str]) -> None:
    """Markup in a registry's tag list or a container's state is shown literally, not read (nor a crash)."""
    from aipair.cli.present.upgrade import show_check
    from aipair.ops.upgrade.report import CheckReport, CheckRow

    row = CheckRow(
        service="web", image="reg/[bold]web", current="1.0", candidate="1.1[/]", newest="[link=x]2.0", digest="[/]"
    )
    show_check(CheckReport(ok=True, due=1, services=[row]))
    shown = capsys.readouterr().out
    assert "1.1[/]" in shown and "[link=x]2.0" in shown and "reg/[bold]web" in shown


def test_a_kestra_candidates_verdict_on_each_flow_is_shown(capsys: pytest.CaptureFixture[str]) -> None:
    """`upgrade validate` of Kestra itself: each flow's verdict, in the candidate's own words, escaped."""
    from aipair.cli.present.upgrade import show_validation
    from aipair.ops.outcome import Outcome
    from aipair.ops.upgrade.validate import ValidationReport

    report = ValidationReport(service="kestra", version="v2.0.0", project="p", image="kestra/kestra:v2.0.0")
    report.flows = [
        Outcome.of("watch-versions", False, "Validation error: Invalid type: io.kestra.plugin.core.flow.ForEach [x]"),
        Outcome.of("validate-candidate", True, "accepted"),
    ]
    show_validation(report)
    shown = capsys.readouterr().out
    assert "✗ flow watch-versions: Validation error: Invalid type: io.kestra.plugin.core.flow.ForEach [x]" in shown
    assert "✓ flow validate-candidate: accepted" in shown
