"""The registry client against hostile registries: real HTTP servers on 127.0.0.1 (tests/helpers/hostile_http.py).

M2: credentials from `docker login` go only to the registry they belong to (not to a next-page link, a
redirect or a plain-http token realm elsewhere). M12: a page loop, a trickling body, an endless tag list or
a huge answer ends with a clear error naming the registry and the bound, within the bounds of
engines/limits.py (made smaller here so the tests stay quick).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from aipair.catalog.images import ImageRef
from aipair.engines.limits import REGISTRY, Bounds
from aipair.engines.registry import RegistryClient, RegistryError

from ..helpers.commands import invoke
from ..helpers.hostile_http import HostileServer, Reply, Seen, endless_tags

SECRET = "s3cret-from-docker-login"
BASIC = "Basic " + base64.b64encode(f"ci:{SECRET}".encode()).decode()
QUICK = replace(REGISTRY, connect=2.0, read=1.0, deadline=1.5, max_pages=5, max_tags=5000, max_bytes=256 * 1024)


def docker_config(tmp_path: Path, *registries: str) -> Path:
    path = tmp_path / "config.json"
    auth = base64.b64encode(f"ci:{SECRET}".encode()).decode()
    path.write_text(json.dumps({"auths": {r: {"auth": auth} for r in registries}}))
    return path


def read_tags(server: HostileServer, config: Path | None = None, limits: Bounds = QUICK) -> list[str]:
    async def go() -> list[str]:
        async with RegistryClient(docker_config=config, limits=limits, max_retries=1) as client:
            return await client.tags(ImageRef.parse(f"{server.address}/x/app:1.0.0"))

    return asyncio.run(go())


def needs_basic(reply: Reply, seen: Seen) -> bool:
    """Answers 401 with a Basic challenge unless the right credentials came; True when they did."""
    if seen.headers.get("authorization") == BASIC:
        return True
    reply.json(401, {"errors": [{"code": "UNAUTHORIZED"}]}, WWW_Authenticate='Basic realm="registry"')
    return False


# --- M2: credentials stay with their registry ----------------------------------------------------


@pytest.mark.parametrize("other_host", ["127.0.0.1:{other}", "localhost:{registry}", "user:pw@127.0.0.1:{other}"])
def test_a_next_link_to_another_host_is_refused_and_that_host_gets_no_credentials(
    tmp_path: Path, other_host: str
) -> None:
    with HostileServer(lambda reply, seen: reply.json(200, {"tags": ["9.9.9"]})) as other:

        def registry(reply: Reply, seen: Seen) -> None:
            if needs_basic(reply, seen):
                host = other_host.format(other=other.port, registry=server.port)
                reply.json(200, {"tags": ["1.0.0"]}, Link=f'<http://{host}/v2/x/app/tags/list?last=1.0.0>; rel="next"')

        with HostileServer(registry) as server:
            config = docker_config(tmp_path, server.address, f"localhost:{server.port}")
            with pytest.raises(RegistryError) as caught:
                read_tags(server, config)
    message = str(caught.value)
    assert "another host" in message and server.address in message
    assert "pw@" not in message, "credentials inside the link are not echoed"
    assert other.authorizations() == [] and other.seen == []
    assert all(s.path.startswith("/v2/x/app/tags/list?n=") for s in server.seen), "no page was read elsewhere"


def test_a_relative_next_link_is_followed_with_the_credentials(tmp_path: Path) -> None:
    def registry(reply: Reply, seen: Seen) -> None:
        if needs_basic(reply, seen):
            if "last=" in seen.path:
                reply.json(200, {"tags": ["1.0.1"]})
            else:
                reply.json(200, {"tags": ["1.0.0"]}, Link='</v2/x/app/tags/list?last=1.0.0>; rel="next"')

    with HostileServer(registry) as server:
        assert read_tags(server, docker_config(tmp_path, server.address)) == ["1.0.0", "1.0.1"]


def test_a_redirect_to_another_host_carries_no_credentials_and_its_challenge_gets_none(tmp_path: Path) -> None:
    """The host redirected to asks for a bearer token from its own realm: the registry's credentials must not go."""

    def elsewhere(reply: Reply, seen: Seen) -> None:
        if seen.path.startswith("/token"):
            reply.json(200, {"token": "stolen"})
        else:
            realm = f"http://127.0.0.1:{other.port}/token"
            reply.json(401, {}, WWW_Authenticate=f'Bearer realm="{realm}",service="evil"')

    with HostileServer(elsewhere) as other:

        def registry(reply: Reply, seen: Seen) -> None:
            if needs_basic(reply, seen):
                reply.json(307, {}, Location=f"http://127.0.0.1:{other.port}/v2/x/app/tags/list")

        with HostileServer(registry) as server, pytest.raises(RegistryError) as caught:
            read_tags(server, docker_config(tmp_path, server.address, other.address))
    assert other.authorizations() == []
    assert server.address in str(caught.value)


def test_a_redirect_to_the_same_registry_keeps_the_credentials(tmp_path: Path) -> None:
    def registry(reply: Reply, seen: Seen) -> None:
        if needs_basic(reply, seen):
            if seen.path.startswith("/moved"):
                reply.json(200, {"tags": ["1.0.0"]})
            else:
                reply.json(307, {}, Location="/moved/tags/list")

    with HostileServer(registry) as server:
        assert read_tags(server, docker_config(tmp_path, server.address)) == ["1.0.0"]


@pytest.mark.parametrize(
    "realm", ["http://localhost:{other}/token", "//localhost:{other}/token", "ftp://127.0.0.1:{other}/token"]
)
def test_a_token_realm_over_plain_http_on_another_host_gets_no_credentials(tmp_path: Path, realm: str) -> None:
    with HostileServer(lambda reply, seen: reply.json(200, {"token": "t"})) as other:

        def registry(reply: Reply, seen: Seen) -> None:
            if seen.headers.get("authorization") == "Bearer t":
                return reply.json(200, {"tags": ["1.0.0"]})
            challenge = f'Bearer realm="{realm.format(other=other.port)}",service="r"'
            reply.json(401, {}, WWW_Authenticate=challenge)

        with HostileServer(registry) as server, pytest.raises(RegistryError) as caught:
            read_tags(server, docker_config(tmp_path, server.address))
    assert other.seen == []
    assert "realm" in str(caught.value) and server.address in str(caught.value)


def test_a_token_realm_on_the_registry_itself_gets_the_credentials(tmp_path: Path) -> None:
    def registry(reply: Reply, seen: Seen) -> None:
        if seen.path.startswith("/token"):
            assert seen.headers.get("authorization") == BASIC
            return reply.json(200, {"token": "t"})
        if seen.headers.get("authorization") == "Bearer t":
            return reply.json(200, {"tags": ["1.0.0"]})
        reply.json(401, {}, WWW_Authenticate=f'Bearer realm="http://{server.address}/token",service="r"')

    with HostileServer(registry) as server:
        assert read_tags(server, docker_config(tmp_path, server.address)) == ["1.0.0"]


# --- M12: bounded in pages, tags, bytes and time --------------------------------------------------


def test_a_next_link_back_to_the_same_page_is_a_loop() -> None:
    def registry(reply: Reply, seen: Seen) -> None:
        reply.json(200, {"tags": ["1.0.0"]}, Link=f'<{seen.path}>; rel="next"')

    with HostileServer(registry) as server, pytest.raises(RegistryError) as caught:
        read_tags(server, limits=REGISTRY)
    assert "loop" in str(caught.value) and server.address in str(caught.value)
    assert len(server.seen) <= 2


def test_an_endless_chain_of_distinct_pages_stops_at_the_page_bound() -> None:
    def registry(reply: Reply, seen: Seen) -> None:
        n = len(server.seen)
        reply.json(200, {"tags": [f"1.0.{n}"]}, Link=f'</v2/x/app/tags/list?last=1.0.{n}>; rel="next"')

    with HostileServer(registry) as server, pytest.raises(RegistryError) as caught:
        read_tags(server)
    assert f"more than {QUICK.max_pages} pages" in str(caught.value) and server.address in str(caught.value)
    assert len(server.seen) == QUICK.max_pages


def test_millions_of_tags_over_pages_stop_at_the_tag_bound() -> None:
    def registry(reply: Reply, seen: Seen) -> None:
        n = len(server.seen)
        tags = [f"{n}.0.{i}" for i in range(1000)]
        reply.json(200, {"tags": tags}, Link=f'</v2/x/app/tags/list?last={n}>; rel="next"')

    limits = replace(QUICK, max_pages=1000)
    with HostileServer(registry) as server, pytest.raises(RegistryError) as caught:
        read_tags(server, limits=limits)
    assert f"more than {limits.max_tags} tags" in str(caught.value)
    assert len(server.seen) <= limits.max_tags // 1000 + 1


@pytest.mark.parametrize("limits", [QUICK, REGISTRY], ids=["small bound", "default bound"])
def test_an_endless_tag_list_in_one_answer_is_cut_off_at_the_byte_bound(limits: Bounds) -> None:
    with HostileServer(lambda reply, seen: reply.stream(200, endless_tags())) as server:
        started = time.monotonic()
        with pytest.raises(RegistryError) as caught:
            read_tags(server, limits=limits)
    assert f"more than {limits.max_bytes // 1024} KiB" in str(caught.value) and server.address in str(caught.value)
    assert time.monotonic() - started < 30


def test_a_huge_answer_with_a_content_length_is_refused_too() -> None:
    def registry(reply: Reply, seen: Seen) -> None:
        reply.json(200, {"tags": ["1.0.0"], "padding": "x" * (QUICK.max_bytes + 10)})

    with HostileServer(registry) as server, pytest.raises(RegistryError) as caught:
        read_tags(server)
    assert "KiB" in str(caught.value)


def test_a_body_trickling_one_byte_at_a_time_ends_at_the_deadline() -> None:
    body = iter([bytes([b]) for b in b'{"tags": ["1.0.0"' + b" " * 100_000])
    with HostileServer(lambda reply, seen: reply.stream(200, body, delay=0.2)) as server:
        started = time.monotonic()
        with pytest.raises(RegistryError) as caught:
            read_tags(server)
    elapsed = time.monotonic() - started
    assert f"{QUICK.deadline:.0f} s" in str(caught.value) and server.address in str(caught.value)
    assert QUICK.deadline - 0.5 < elapsed < QUICK.deadline + 10


def test_headers_trickling_one_byte_at_a_time_end_at_the_deadline() -> None:
    with HostileServer(lambda reply, seen: reply.trickle_headers(0.2)) as server:
        started = time.monotonic()
        with pytest.raises(RegistryError) as caught:
            read_tags(server)
    assert "deadline" in str(caught.value)
    assert time.monotonic() - started < QUICK.deadline + 10


def test_a_huge_token_answer_is_cut_off(tmp_path: Path) -> None:
    def registry(reply: Reply, seen: Seen) -> None:
        if seen.path.startswith("/token"):
            return reply.stream(200, iter([b'{"token": "'] + [b"a" * 65536] * 100_000))
        reply.json(401, {}, WWW_Authenticate=f'Bearer realm="http://{server.address}/token",service="r"')

    with HostileServer(registry) as server, pytest.raises(RegistryError) as caught:
        read_tags(server, docker_config(tmp_path, server.address))
    assert "KiB" in str(caught.value)


def test_tags_that_are_not_valid_oci_tags_are_dropped() -> None:
    bad = ["1.0.1", "1.0.2\n  docker_socket: true", "x" * 200, 7, None, ".hidden", "1.0.3"]
    with HostileServer(lambda reply, seen: reply.json(200, {"tags": bad})) as server:
        assert read_tags(server) == ["1.0.1", "1.0.3"]


@pytest.mark.parametrize(
    "digest", ["sha256:abc", 'sha256:{hex}", docker_socket: true, x: "', "md5 {hex}", "sha256:../../{hex}"]
)
def test_a_digest_header_that_is_not_a_digest_is_refused(digest: str) -> None:
    value = digest.format(hex="a" * 64)

    def registry(reply: Reply, seen: Seen) -> None:
        reply.json(200, {}, Docker_Content_Digest=value)

    async def go() -> str:
        async with RegistryClient(limits=QUICK) as client:
            return await client.digest(ImageRef.parse(f"{server.address}/x/app:1.0.0"), "1.0.1")

    with HostileServer(registry) as server, pytest.raises(RegistryError, match="not a sha256 digest"):
        asyncio.run(go())


def test_an_answer_that_is_not_json_is_a_clear_error() -> None:
    def registry(reply: Reply, seen: Seen) -> None:
        reply.stream(200, iter([b"<html>not json</html>"]))

    with HostileServer(registry) as server, pytest.raises(RegistryError) as caught:
        read_tags(server)
    assert "not JSON" in str(caught.value) and server.address in str(caught.value)


# --- through the CLI: the error is in the report, no traceback, no credentials ---------------------


def test_upgrade_check_json_reports_the_bound_and_no_credentials(tmp_path: Path) -> None:
    def registry(reply: Reply, seen: Seen) -> None:
        if needs_basic(reply, seen):
            reply.json(200, {"tags": ["1.0.0"]}, Link=f'<http://ci:{SECRET}@evil.example/next>; rel="next"')

    with HostileServer(registry) as server:
        catalog = tmp_path / "catalog.yaml"
        catalog.write_text(
            yaml.safe_dump(
                {
                    "version": 1,
                    "project": {"name": "up", "domain": "up.example.com", "tls": {"acme_email": "o@up.example.com"}},
                    "services": {
                        "app": {"layer": "application", "kind": "job", "image": f"{server.address}/x/app:1.0.0"}
                    },
                }
            )
        )
        docker_config(tmp_path, server.address)
        result = invoke(["upgrade", "check", "--json", "--catalog", str(catalog)], env={"DOCKER_CONFIG": str(tmp_path)})
    assert result.exit_code == 1, result.output
    payload = json.loads(result.stdout)
    assert "another host" in payload["services"][0]["error"]
    assert SECRET not in result.output and "Traceback" not in result.output
