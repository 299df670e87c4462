"""SSRF through smoke URLs: `smoke.http` and `health.path` are paths on the service itself.

`upgrade validate` requests `http://<candidate's address>:<port>` + the path (ops/upgrade/smoke.py
`run_smoke`), and the Compose probes request `http://127.0.0.1:<port>` + the path. A value that is a URL,
starts with `//`, carries userinfo (`@`), a backslash or whitespace could send that request to another
host (the cloud metadata service, an internal API). The model refuses them, naming the field.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace
from typing import Any, ClassVar

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from aipair.catalog.loader import parse_catalog
from aipair.catalog.model import Port
from aipair.catalog.probes import HttpHealth, SmokeTest
from aipair.errors import CatalogError
from aipair.ops.upgrade.smoke import run_smoke

from ..helpers.catalogs import api_catalog

HOSTILE = [
    ("http://169.254.169.254/latest/meta-data/", "is not a path"),
    ("https://evil.example/x", "is not a path"),
    ("evil.example/x", "is not a path"),
    ("@evil.example/x", "is not a path"),
    (":80@evil.example/", "is not a path"),
    ("?x=1", "is not a path"),
    ("", "is not a path"),
    ("//evil.example/x", "names another host"),
    ("///evil.example/x", "names another host"),
    ("/x@evil.example", "'@'"),
    ("/@evil.example/", "'@'"),
    ("\\\\evil.example\\x", "is not a path"),
    ("/\\evil.example/x", "backslash"),
    ("/x y", "whitespace"),
    ("/x\ty", "whitespace"),
    ("/x\n@evil", "'@'"),
    ("/x\r\nHost: evil.example", "whitespace"),
    ("/x\x00", "whitespace"),
    ("/x\x7f", "whitespace"),
    ("/\uff0f\uff0fevil.example", "non-ASCII"),  # full-width solidus: '//' after NFKC normalisation
]
FINE = ["/", "/ok?x=1", "/api/v1/configs", "/healthz", "/a%40b", "/x?next=%2F%2Fevil", "/api;v=1", "/x#top"]


def _quoted(value: str) -> str:
    """A YAML double-quoted scalar (escapes for backslash, control and non-ASCII characters)."""
    return (
        '"'
        + "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}" for c in value)
        + '"'
    )


@pytest.mark.parametrize(("path", "reason"), HOSTILE, ids=[repr(p) for p, _ in HOSTILE])
@pytest.mark.parametrize("field", ["smoke", "health"])
def test_a_path_that_could_name_another_host_is_refused(field: str, path: str, reason: str) -> None:
    values = {"health": '"/healthz"', "smoke": '"/healthz"'} | {field: _quoted(path)}
    text = api_catalog(f"{{name: up, http: {values['smoke']}, port: 8080}}", health=values["health"])
    with pytest.raises(CatalogError) as caught:
        parse_catalog(text, source="cat.yaml")
    problems = caught.value.problems
    wanted = "services.api.smoke[0].http" if field == "smoke" else "services.api.health.path"
    needle = "http: " if field == "smoke" else "health: "
    line = next(n for n, text_line in enumerate(text.splitlines(), 1) if needle in text_line)
    assert [(p.file, p.line, p.field) for p in problems] == [("cat.yaml", line, wanted)], problems
    assert reason in problems[0].message


@pytest.mark.parametrize("path", FINE)
def test_paths_and_queries_on_the_service_are_accepted(path: str) -> None:
    catalog = parse_catalog(api_catalog(f"{{name: up, http: {_quoted(path)}, port: 8080}}", health=_quoted(path)))
    service = catalog.services["api"]
    assert service.smoke[0].http == path
    assert isinstance(service.health, HttpHealth) and service.health.path == path


def _accepted(path: str) -> bool:
    try:
        SmokeTest(name="x", http=path)
        return True
    except ValidationError:
        return False


@given(st.text(alphabet=st.sampled_from("/\\@:?#%.a1 \t\n\x00\uff0f[]"), max_size=12))
def test_every_accepted_path_stays_on_the_service(path: str) -> None:
    """What smoke.py's `run_smoke` and the Compose probes build from an accepted path names the service's host."""
    if not _accepted(path):
        return
    for base in ("http://172.18.0.5:8080", "http://127.0.0.1:8080"):
        url = httpx.URL(base + path)
        assert (url.scheme, url.host, url.port, url.userinfo) == ("http", base[7:].split(":")[0], 8080, b"")


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Recorder.seen.append(self.path)
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    httpd = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_validate_requests_the_path_on_the_candidate_itself(server: HTTPServer) -> None:
    """The real `run_smoke` against a real HTTP server on 127.0.0.1; the Docker client is a double (no engine here)
    that reports the candidate's address as 127.0.0.1."""
    container = SimpleNamespace(attrs={"NetworkSettings": {"Networks": {"n": {"IPAddress": "127.0.0.1"}}}})
    client = SimpleNamespace(containers=SimpleNamespace(get=lambda _name: container))
    port = server.server_address[1]
    _Recorder.seen = []
    test = SmokeTest(name="q", http="/ok?x=1", port=port, contains="ok")
    outcome = run_smoke(client, "c", test, [Port(port=port)], environment={})
    assert outcome.ok, outcome
    assert _Recorder.seen == ["/ok?x=1"]
