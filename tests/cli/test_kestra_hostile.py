"""The Kestra client against hostile or broken servers: real HTTP servers on 127.0.0.1 (tests/helpers/hostile_http.py).

Bounded in time (a trickling answer ends at the deadline), in bytes (an endless body is cut off), and
credentials (basic, token, or written into the --server URL) go only to the Kestra host and never
into a message or --json.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import replace
from pathlib import Path

import pytest

from aipair.engines.kestra import Credentials, KestraClient, KestraError
from aipair.engines.limits import KESTRA

from ..helpers.commands import invoke
from ..helpers.hostile_http import HostileServer, Reply, Seen, endless_tags
from ..helpers.registry import free_port

SECRET = "kestra-s3cret"
QUICK = replace(KESTRA, connect=2.0, read=1.0, deadline=1.5, max_bytes=256 * 1024)


def configs(reply: Reply, seen: Seen) -> None:
    reply.json(200, {"version": "0.24.0"})


def test_an_endless_answer_is_cut_off_at_the_byte_bound() -> None:
    with HostileServer(lambda reply, seen: reply.stream(200, endless_tags())) as server:
        started = time.monotonic()
        with KestraClient(server.url, limits=QUICK, timeout=1.0) as client, pytest.raises(KestraError) as caught:
            client.version()
    assert f"more than {QUICK.max_bytes // 1024} KiB" in str(caught.value) and server.url in str(caught.value)
    assert time.monotonic() - started < 20


def test_huge_logs_are_cut_off_at_the_default_bound() -> None:
    def kestra(reply: Reply, seen: Seen) -> None:
        if seen.path == "/api/v1/configs":
            return configs(reply, seen)
        line = json.dumps({"taskId": "t", "level": "INFO", "message": "x" * 1000}).encode()
        reply.stream(200, iter([b"["] + [line + b","] * 10_000_000))

    with HostileServer(kestra) as server, KestraClient(server.url) as client, pytest.raises(KestraError) as caught:
        client.logs("e1")
    assert f"more than {KESTRA.max_bytes // 1024} KiB" in str(caught.value)


def test_a_body_trickling_one_byte_at_a_time_ends_at_the_deadline() -> None:
    body = iter([bytes([b]) for b in b'{"version": "0.24.0"' + b" " * 100_000])
    with HostileServer(lambda reply, seen: reply.stream(200, body, delay=0.2)) as server:
        started = time.monotonic()
        with KestraClient(server.url, limits=QUICK, timeout=1.0) as client, pytest.raises(KestraError) as caught:
            client.version()
    elapsed = time.monotonic() - started
    assert f"{QUICK.deadline:.0f} s" in str(caught.value) and server.url in str(caught.value)
    assert QUICK.deadline - 0.5 < elapsed < QUICK.deadline + 5


def test_headers_trickling_one_byte_at_a_time_end_at_the_deadline() -> None:
    with HostileServer(lambda reply, seen: reply.trickle_headers(0.2)) as server:
        started = time.monotonic()
        with KestraClient(server.url, limits=QUICK, timeout=1.0) as client, pytest.raises(KestraError) as caught:
            client.version()
    assert "deadline" in str(caught.value)
    assert time.monotonic() - started < QUICK.deadline + 5


@pytest.mark.parametrize(
    "credentials", [Credentials(username="u", password=SECRET), Credentials(token=SECRET)], ids=["basic", "token"]
)
def test_a_redirect_to_another_host_is_not_followed_and_gets_no_credentials(credentials: Credentials) -> None:
    with HostileServer(configs) as other:

        def kestra(reply: Reply, seen: Seen) -> None:
            reply.json(307, {}, Location=f"{other.url}/api/v1/configs")

        with HostileServer(kestra) as server, KestraClient(server.url, credentials=credentials) as client:
            with pytest.raises(KestraError) as caught:
                client.version()
            assert server.authorizations(), "the Kestra host itself gets the credentials"
    assert other.seen == []
    assert "redirect" in str(caught.value) and SECRET not in str(caught.value)


def test_credentials_in_the_server_url_go_to_kestra_as_basic_auth_and_never_into_messages() -> None:
    def kestra(reply: Reply, seen: Seen) -> None:
        if seen.path == "/api/v1/configs":
            return configs(reply, seen)
        reply.json(500, {"message": "boom"})

    with HostileServer(kestra) as server:
        url = f"http://admin:{SECRET}@127.0.0.1:{server.port}"
        with KestraClient(url) as client:
            assert client.url == server.url
            assert client.version() == "0.24.0"
            with pytest.raises(KestraError) as caught:
                client.flows("ns")
    assert server.authorizations()[0] == "Basic " + base64.b64encode(f"admin:{SECRET}".encode()).decode()
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://admin:{secret}@127.0.0.1:{port}",
        "http://{secret}@127.0.0.1:{port}/",
        "http://127.0.0.1:{port}/?access_token={secret}",
    ],
)
def test_an_unreachable_server_url_with_credentials_is_not_echoed(tmp_path: Path, url: str) -> None:
    server = url.format(secret=SECRET, port=free_port())
    with KestraClient(server, retries=0) as client, pytest.raises(KestraError) as caught:
        client.version()
    assert SECRET not in str(caught.value) and "cannot reach Kestra" in str(caught.value)
    if "admin:" not in url:
        return  # through the CLI once (the client retries a refused connection for 3.5 s)
    catalog = Path(__file__).parents[2] / "catalog.yaml"
    result = invoke(
        ["flows", "status", "--json", "--catalog", str(catalog), "--server", server, "--timeout", "2"],
        env={"KESTRA_USER": "", "KESTRA_PASSWORD": "", "KESTRA_API_TOKEN": ""},
    )
    assert result.exit_code != 0
    assert SECRET not in result.output and "Traceback" not in result.output


def test_an_answer_that_is_not_json_is_a_clear_error() -> None:
    def proxy(reply: Reply, seen: Seen) -> None:
        reply.stream(200, iter([b"<html>proxy login</html>"]))

    with HostileServer(proxy) as server, KestraClient(server.url) as client, pytest.raises(KestraError) as caught:
        client.version()
    assert "not JSON" in str(caught.value) and server.url in str(caught.value)


def test_a_server_url_that_is_not_http_is_a_usage_error() -> None:
    from aipair.errors import UsageError

    with pytest.raises(UsageError, match="http"):
        KestraClient("ftp://kestra.example.com")


def test_executions_ask_for_a_bounded_page() -> None:
    def kestra(reply: Reply, seen: Seen) -> None:
        if seen.path == "/api/v1/configs":
            return configs(reply, seen)
        reply.json(200, {"results": [], "total": 0})

    with HostileServer(kestra) as server, KestraClient(server.url) as client:
        client.executions("ns", "f", size=10_000_000)
    assert f"size={KESTRA.max_page_size}&" in server.seen[-1].path
