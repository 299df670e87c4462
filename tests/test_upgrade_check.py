"""`aipair upgrade check` against a real OCI registry (Debian's docker-registry, distribution 2.8)."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from aipair.cli import app
from aipair.ops.upgrade.check import run_check
from aipair.catalog import parse_catalog

runner = CliRunner()
TAGS = ["1.0.0", "1.0.1", "1.1.0", "1.1.0-alpine", "1.0.0-alpine", "2.0.0", "2.1.0-rc1", "latest", "1.1"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_registry(base: Path, auth: dict[str, Any] | None = None) -> tuple[str, subprocess.Popen[bytes]]:
    binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    if not Path(binary).exists():
        pytest.fail("the OCI registry is missing: apt-get install -y docker-registry apache2-utils")
    port = _free_port()
    config = {"version": 0.1, "log": {"level": "error"}, "http": {"addr": f"127.0.0.1:{port}"},
              "storage": {"filesystem": {"rootdirectory": str(base / "data")}, "delete": {"enabled": True}}}
    if auth:
        config["auth"] = auth
    (base / "config.yml").write_text(yaml.safe_dump(config))
    process = subprocess.Popen([binary, "serve", str(base / "config.yml")], stdout=subprocess.DEVNULL,
                               stderr=open(base / "registry.log", "wb"))
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code in (200, 401):
                return f"127.0.0.1:{port}", process
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"docker-registry did not start: {(base / 'registry.log').read_text()[-1000:]}")
        time.sleep(0.1)


def push(registry: str, repository: str, tags: list[str], auth: tuple[str, str] | None = None) -> dict[str, str]:
    """Push a tiny OCI image under each tag (each with its own config, so each has its own digest)."""
    digests = {}
    with httpx.Client(base_url=f"http://{registry}", auth=auth, timeout=10) as client:
        def blob(data: bytes) -> dict[str, Any]:
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            start = client.post(f"/v2/{repository}/blobs/uploads/")
            start.raise_for_status()
            location = start.headers["location"]  # carries its own _state query: append, do not replace
            client.put(f"{location}{'&' if '?' in location else '?'}digest={digest}", content=data,
                       headers={"Content-Type": "application/octet-stream"}).raise_for_status()
            return {"digest": digest, "size": len(data)}

        layer = blob(b"aipair test layer")
        for tag in tags:
            config = blob(json.dumps({"architecture": "amd64", "os": "linux", "config": {"Labels": {"tag": tag}},
                                      "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]}}).encode())
            manifest = json.dumps({
                "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer}]}).encode()
            client.put(f"/v2/{repository}/manifests/{tag}", content=manifest,
                       headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"}).raise_for_status()
            digests[tag] = "sha256:" + hashlib.sha256(manifest).hexdigest()
    return digests


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    address, process = _start_registry(tmp_path_factory.mktemp("registry"))
    try:
        digests = push(address, "aipair/app", TAGS)
        push(address, "aipair/gui", ["1.0.0", "1.1.0"])
        push(address, "aipair/api", ["1.0.0", "1.1.0", "1.2.0"])
        yield address, digests
    finally:
        process.terminate()
        process.wait(timeout=10)


def _catalog(registry: str, services: dict[str, dict[str, Any]]) -> Any:
    base = {"layer": "application", "kind": "job"}
    data = {"version": 1, "project": {"name": "up", "domain": "up.example.com", "tls": {"acme_email": "o@up.example.com"}},
            "services": {name: {**base, **svc, "image": svc["image"].replace("REG", registry)} for name, svc in services.items()}}
    return parse_catalog(yaml.safe_dump(data))


def test_each_policy_finds_exactly_its_candidate(registry: tuple[str, dict[str, str]]) -> None:
    address, digests = registry
    catalog = _catalog(address, {
        "patch": {"image": "REG/aipair/app:1.0.0", "upgrade": {"track": "patch"}},
        "minor": {"image": "REG/aipair/app:1.0.0", "upgrade": {"track": "minor"}},
        "major": {"image": "REG/aipair/app:1.0.0", "upgrade": {"track": "major"}},
        "prerelease": {"image": "REG/aipair/app:1.0.0", "upgrade": {"track": "major", "prerelease": True}},
        "suffix": {"image": "REG/aipair/app:1.0.0-alpine", "upgrade": {"track": "minor"}},
        "pinned": {"image": "REG/aipair/app:1.0.0", "upgrade": {"track": "none"}},
        "ignored": {"image": "REG/aipair/app:1.0.0", "upgrade": {"track": "major", "ignore": ["2.*"]}},
        "current": {"image": "REG/aipair/app:2.0.0", "upgrade": {"track": "major"}},
        # lockstep: gui has only up to 1.1.0, so api may not move to 1.2.0
        "api": {"image": "REG/aipair/api:1.0.0", "upgrade": {"track": "minor", "group": "cdp"}},
        "gui": {"image": "REG/aipair/gui:1.0.0", "upgrade": {"track": "minor", "group": "cdp"}},
    })
    rows = {row.service: row for row in run_check(catalog)}
    expected = {"patch": "1.0.1", "minor": "1.1.0", "major": "2.0.0", "prerelease": "2.1.0-rc1", "suffix": "1.1.0-alpine",
                "pinned": None, "ignored": "1.1.0", "current": None, "api": "1.1.0", "gui": "1.1.0"}
    assert {name: row.candidate for name, row in rows.items()} == expected
    assert rows["major"].digest == digests["2.0.0"] and rows["patch"].digest == digests["1.0.1"]
    assert rows["pinned"].newest == "2.0.0" and rows["pinned"].digest is None
    assert all(row.error is None for row in rows.values())


def test_cli_exit_codes_and_json(registry: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    address, _ = registry
    data = {"version": 1, "project": {"name": "up", "domain": "up.example.com", "tls": {"acme_email": "o@up.example.com"}},
            "services": {"app": {"layer": "application", "kind": "job", "image": f"{address}/aipair/app:1.0.0"}}}
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(data))
    due = runner.invoke(app, ["upgrade", "check", "--json", "--catalog", str(path)])
    assert due.exit_code == 10, due.output
    payload = json.loads(due.stdout)
    assert payload["due"] == 1 and payload["services"][0]["candidate"] == "1.1.0"
    data["services"]["app"]["image"] = f"{address}/aipair/app:2.0.0"
    path.write_text(yaml.safe_dump(data))
    assert runner.invoke(app, ["upgrade", "check", "--catalog", str(path)]).exit_code == 0


class HubLikeRegistryDouble:
    """TEST DOUBLE, named as such: Docker Hub's behaviour that no registry here shows. Debian's
    distribution 2.8 does not paginate tag lists, and Docker Hub itself is unreachable. It pages
    tags with `Link` headers, answers the first request with `429` and `Retry-After`, and wants a
    bearer token from a `WWW-Authenticate: Bearer` challenge, as Docker Hub and GHCR do."""

    def __init__(self, tags: list[str], page: int = 2) -> None:
        import http.server
        import threading
        from urllib.parse import parse_qs, urlparse

        double = self
        self.tags, self.page, self.hits, self.throttled = tags, page, [], False

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def _send(self, code: int, body: dict[str, Any] | None = None, **headers: str) -> None:
                data = json.dumps(body or {}).encode()
                self.send_response(code)
                for key, value in headers.items():
                    self.send_header(key.replace("_", "-"), value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                double.hits.append(self.path)
                if url.path == "/token":
                    query = parse_qs(url.query)
                    assert query["scope"] == ["repository:hub/app:pull"] and query["service"] == ["double"]
                    return self._send(200, {"token": "granted"})
                if self.headers.get("Authorization") != "Bearer granted":
                    realm = f"http://127.0.0.1:{double.port}/token"
                    return self._send(401, WWW_Authenticate=f'Bearer realm="{realm}",service="double",'
                                                            'scope="repository:hub/app:pull"')
                if not double.throttled:
                    double.throttled = True
                    return self._send(429, Retry_After="1")
                query = parse_qs(url.query)
                n = int(query.get("n", ["100"])[0])
                last = query.get("last", [None])[0]
                start = double.tags.index(last) + 1 if last else 0
                chunk = double.tags[start:start + n]
                headers = {}
                if start + n < len(double.tags):
                    headers["Link"] = f'</v2/hub/app/tags/list?last={chunk[-1]}&n={n}>; rel="next"'
                return self._send(200, {"name": "hub/app", "tags": chunk}, **headers)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_pagination_throttling_and_bearer_tokens_as_docker_hub_does() -> None:
    import asyncio

    from aipair.catalog.images import ImageRef
    from aipair.engines.registry import RegistryClient

    double = HubLikeRegistryDouble([f"1.{i}.0" for i in range(9)])
    try:
        async def read() -> list[str]:
            async with RegistryClient(page_size=2) as client:
                ref = ImageRef.parse(f"127.0.0.1:{double.port}/hub/app:1.0.0")
                first = await client.tags(ref)
                assert await client.tags(ref) == first  # the second answer comes from the short-lived cache
                return first

        started = time.monotonic()
        tags = asyncio.run(read())
        assert tags == [f"1.{i}.0" for i in range(9)]
        assert time.monotonic() - started >= 1.0, "Retry-After was honoured"
        pages = [hit for hit in double.hits if hit.startswith("/v2/")]
        assert sum("last=" in hit for hit in pages) == 4  # 9 tags, 2 per page: 4 follow-up pages
        assert sum(hit.startswith("/token") for hit in double.hits) == 1  # one token for every page
    finally:
        double.server.shutdown()


def test_unknown_image_and_registry_down_are_clear_errors(registry: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    address, _ = registry
    catalog = _catalog(address, {"gone": {"image": "REG/aipair/missing:1.0.0"},
                                 "down": {"image": f"127.0.0.1:{_free_port()}/aipair/app:1.0.0"}})
    rows = {row.service: row for row in run_check(catalog)}
    assert rows["gone"].error == f"{address}/aipair/missing: no such repository or tag"
    assert rows["down"].error.startswith("cannot reach the registry 127.0.0.1:")
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "project": {"name": "up", "domain": "up.example.com",
                                                             "tls": {"acme_email": "o@up.example.com"}},
                                    "services": {"gone": {"layer": "data", "kind": "job",
                                                          "image": f"{address}/aipair/missing:1.0.0"}}}))
    before = path.read_bytes()
    result = runner.invoke(app, ["upgrade", "check", "--catalog", str(path)], env={"COLUMNS": "200"})
    assert result.exit_code == 1 and "no such repository or tag" in result.stdout
    assert path.read_bytes() == before and not (tmp_path / "compose").exists(), "nothing changed"


def test_basic_auth_from_docker_config(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    base = tmp_path_factory.mktemp("private")
    htpasswd = subprocess.run(["htpasswd", "-Bbn", "ci", "s3cret"], capture_output=True, text=True, check=True)
    (base / "htpasswd").write_text(htpasswd.stdout)
    address, process = _start_registry(base, {"htpasswd": {"realm": "aipair-test", "path": str(base / "htpasswd")}})
    try:
        push(address, "private/app", ["1.0.0", "1.0.5"], auth=("ci", "s3cret"))
        catalog = _catalog(address, {"app": {"image": "REG/private/app:1.0.0", "upgrade": {"track": "patch"}}})
        config = tmp_path / "config.json"
        config.write_text(json.dumps({"auths": {address: {"auth": base64.b64encode(b"ci:s3cret").decode()}}}))
        rows = run_check(catalog, docker_config=config)
        assert rows[0].candidate == "1.0.5" and rows[0].error is None and rows[0].digest.startswith("sha256:")
        config.write_text(json.dumps({"auths": {address: {"auth": base64.b64encode(b"ci:wrong").decode()}}}))
        assert "refused the credentials" in (run_check(catalog, docker_config=config)[0].error or "")
        config.write_text("{}")
        assert f"needs credentials: run `docker login {address}`" in (run_check(catalog, docker_config=config)[0].error or "")
    finally:
        process.terminate()
        process.wait(timeout=10)


class TokenServer:
    """A token server for the real registry's `auth: token` mode (distribution's documented flow):
    anonymous pull tokens, as Docker Hub grants them; a 401 for wrong basic credentials."""

    def __init__(self, base: Path) -> None:
        import datetime as dt
        import http.server
        import threading
        from urllib.parse import parse_qs, urlparse

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
        from cryptography.x509.oid import NameOID

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aipair-test-issuer")])
        now = dt.datetime.now(dt.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
        self.bundle = base / "token-ca.pem"
        self.bundle.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        self.issued = 0

        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_GET(self) -> None:
                query = parse_qs(urlparse(self.path).query)
                auth = self.headers.get("Authorization", "")
                if auth and auth != "Basic " + base64.b64encode(b"ci:s3cret").decode():
                    self.send_response(401)
                    self.end_headers()
                    return
                repository = query["scope"][0].split(":")[1]
                issued_at = int(time.time())
                claims = {"iss": "aipair-test-issuer", "sub": "ci" if auth else "", "aud": query["service"][0],
                          "exp": issued_at + 300, "nbf": issued_at - 10, "iat": issued_at, "jti": str(issued_at),
                          "access": [{"type": "repository", "name": repository, "actions": ["pull"]}]}
                header = {"typ": "JWT", "alg": "RS256", "x5c": [x5c]}
                signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
                signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
                body = json.dumps({"token": f"{signing_input}.{b64(signature)}", "expires_in": 300}).encode()
                server.issued += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.realm = f"http://127.0.0.1:{self.http.server_address[1]}/token"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()


def test_bearer_token_challenge_of_a_real_registry(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    base = tmp_path_factory.mktemp("token-registry")
    address, open_registry = _start_registry(base)  # fill the storage first, without auth
    push(address, "private/app", ["1.0.0", "1.0.3", "1.1.0"])
    open_registry.terminate()
    open_registry.wait(timeout=10)
    tokens = TokenServer(base)
    _, process = _start_registry(base, {"token": {"realm": tokens.realm, "service": "aipair-test-registry",
                                                  "issuer": "aipair-test-issuer", "rootcertbundle": str(tokens.bundle)}})
    try:
        address = f"127.0.0.1:{yaml.safe_load((base / 'config.yml').read_text())['http']['addr'].split(':')[1]}"
        challenge = httpx.get(f"http://{address}/v2/private/app/tags/list").headers["www-authenticate"]
        assert challenge.startswith("Bearer realm=")  # the real registry asks for a token
        catalog = _catalog(address, {"app": {"image": "REG/private/app:1.0.0", "upgrade": {"track": "patch"}}})
        (tmp_path / "none.json").write_text("{}")
        rows = run_check(catalog, docker_config=tmp_path / "none.json")  # anonymous token, as on Docker Hub
        assert rows[0].candidate == "1.0.3" and rows[0].digest and rows[0].error is None
        assert tokens.issued >= 1
        wrong = tmp_path / "wrong.json"
        wrong.write_text(json.dumps({"auths": {address: {"auth": base64.b64encode(b"ci:nope").decode()}}}))
        assert "refused the credentials" in (run_check(catalog, docker_config=wrong)[0].error or "")
    finally:
        process.terminate()
        process.wait(timeout=10)
        tokens.http.shutdown()
