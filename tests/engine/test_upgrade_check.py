"""`aipair upgrade check` against a real OCI registry (Debian's docker-registry, distribution 2.8).

The `registry` fixture is in tests/engine/conftest.py; the Docker Hub-like double is in
tests/cli/test_upgrade_check.py.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from aipair.catalog import parse_catalog
from aipair.cli import app
from aipair.ops.upgrade.check import run_check

from ..helpers.registry import free_port as _free_port
from ..helpers.registry import push, running_registry
from ..helpers.registry_tokens import token_registry

runner = CliRunner()


def _catalog(registry: str, services: dict[str, dict[str, Any]]) -> Any:
    base = {"layer": "application", "kind": "job"}
    data = {
        "version": 1,
        "project": {"name": "up", "domain": "up.example.com", "tls": {"acme_email": "o@up.example.com"}},
        "services": {
            name: {**base, **svc, "image": svc["image"].replace("REG", registry)} for name, svc in services.items()
        },
    }
    return parse_catalog(yaml.safe_dump(data))


def test_each_policy_finds_exactly_its_candidate(registry: tuple[str, dict[str, str]]) -> None:
    address, digests = registry
    catalog = _catalog(
        address,
        {
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
        },
    )
    rows = {row.service: row for row in run_check(catalog)}
    expected = {
        "patch": "1.0.1",
        "minor": "1.1.0",
        "major": "2.0.0",
        "prerelease": "2.1.0-rc1",
        "suffix": "1.1.0-alpine",
        "pinned": None,
        "ignored": "1.1.0",
        "current": None,
        "api": "1.1.0",
        "gui": "1.1.0",
    }
    assert {name: row.candidate for name, row in rows.items()} == expected
    assert rows["major"].digest == digests["2.0.0"] and rows["patch"].digest == digests["1.0.1"]
    assert rows["pinned"].newest == "2.0.0" and rows["pinned"].digest is None
    assert all(row.error is None for row in rows.values())


def test_cli_exit_codes_and_json(registry: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    address, _ = registry
    data = {
        "version": 1,
        "project": {"name": "up", "domain": "up.example.com", "tls": {"acme_email": "o@up.example.com"}},
        "services": {"app": {"layer": "application", "kind": "job", "image": f"{address}/aipair/app:1.0.0"}},
    }
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(data))
    due = runner.invoke(app, ["upgrade", "check", "--json", "--catalog", str(path)])
    assert due.exit_code == 10, due.output
    payload = json.loads(due.stdout)
    assert payload["due"] == 1 and payload["services"][0]["candidate"] == "1.1.0"
    data["services"]["app"]["image"] = f"{address}/aipair/app:2.0.0"
    path.write_text(yaml.safe_dump(data))
    assert runner.invoke(app, ["upgrade", "check", "--catalog", str(path)]).exit_code == 0


def test_unknown_image_and_registry_down_are_clear_errors(registry: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    address, _ = registry
    catalog = _catalog(
        address,
        {
            "gone": {"image": "REG/aipair/missing:1.0.0"},
            "down": {"image": f"127.0.0.1:{_free_port()}/aipair/app:1.0.0"},
        },
    )
    rows = {row.service: row for row in run_check(catalog)}
    assert rows["gone"].error == f"{address}/aipair/missing: no such repository or tag"
    assert rows["down"].error.startswith("cannot reach the registry 127.0.0.1:")
    path = tmp_path / "catalog.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "project": {"name": "up", "domain": "up.example.com", "tls": {"acme_email": "o@up.example.com"}},
                "services": {"gone": {"layer": "data", "kind": "job", "image": f"{address}/aipair/missing:1.0.0"}},
            }
        )
    )
    before = path.read_bytes()
    result = runner.invoke(app, ["upgrade", "check", "--catalog", str(path)], env={"COLUMNS": "200"})
    assert result.exit_code == 1 and "no such repository or tag" in result.stdout
    assert path.read_bytes() == before and not (tmp_path / "compose").exists(), "nothing changed"


def test_basic_auth_from_docker_config(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    base = tmp_path_factory.mktemp("private")
    htpasswd = subprocess.run(["htpasswd", "-Bbn", "ci", "s3cret"], capture_output=True, text=True, check=True)
    (base / "htpasswd").write_text(htpasswd.stdout)
    with running_registry(base, {"htpasswd": {"realm": "aipair-test", "path": str(base / "htpasswd")}}) as address:
        push(address, "private/app", ["1.0.0", "1.0.5"], auth=("ci", "s3cret"))
        catalog = _catalog(address, {"app": {"image": "REG/private/app:1.0.0", "upgrade": {"track": "patch"}}})
        config = tmp_path / "config.json"
        config.write_text(json.dumps({"auths": {address: {"auth": base64.b64encode(b"ci:s3cret").decode()}}}))
        rows = run_check(catalog, docker_config=config)
        assert rows[0].candidate == "1.0.5" and rows[0].error is None and rows[0].digest.startswith("sha256:")
        config.write_text(json.dumps({"auths": {address: {"auth": base64.b64encode(b"ci:wrong").decode()}}}))
        assert "refused the credentials" in (run_check(catalog, docker_config=config)[0].error or "")
        config.write_text("{}")
        assert f"needs credentials: run `docker login {address}`" in (
            run_check(catalog, docker_config=config)[0].error or ""
        )


def test_bearer_token_challenge_of_a_real_registry(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    base = tmp_path_factory.mktemp("token-registry")
    with running_registry(base) as address:  # fill the storage first, without auth
        push(address, "private/app", ["1.0.0", "1.0.3", "1.1.0"])
    with token_registry(base) as (address, tokens):
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
