"""`host` smoke tests in `aipair upgrade validate` on a real engine, with candidates pulled from a real local
registry (the `images` fixture, tests/engine/conftest.py): a program on this host reaches the candidate at its
address in the throw-away project, and its verdict is the report's and the ledger's."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import docker
import yaml
from typer.testing import CliRunner

from aipair.cli import app

from ..helpers.upgrade import leftovers, validate_catalog

runner = CliRunner()
PROJECT = "hostsmoke"  # no other test uses it: the throw-away project is hostsmoke-validate-web

# Fetches what it is given, and reports what the environment says of the candidate.
FETCH = (
    "import os, sys, urllib.request; "
    "print(os.environ['AIPAIR_CANDIDATE_URL'], os.environ['AIPAIR_CANDIDATE_PORT']); "
    "print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())"
)


def _catalog(tmp_path: Path, address: str, host_smoke: dict[str, Any]) -> Path:
    tmp_path.mkdir()
    path = validate_catalog(tmp_path, address)
    data = yaml.safe_load(path.read_text())
    data["project"]["name"] = PROJECT
    data["services"]["web"]["smoke"] = [
        {"name": "healthz", "http": "/healthz"},
        host_smoke,
        {"name": "shell", "command": ["cat", "/www/healthz"], "contains": "ok"},  # the other kinds, moved
        {"name": "port", "tcp": 8000},  # into ops/upgrade/smoke.py with it
    ]
    path.write_text(yaml.safe_dump(data))
    return path


def _validate(client: Any, catalog: Path, report: Path, *, passes: bool) -> dict[str, Any]:
    """`upgrade validate web 1.1.0` of ``catalog``: its verdict (``passes``) decided by the host test `fetch`
    alone, the other kinds passing, the same in the report and the ledger, and nothing left on the engine."""
    result = runner.invoke(
        app,
        ["upgrade", "validate", "web", "1.1.0", "--catalog", str(catalog), "--report", str(report), "--timeout", "60"],
    )
    assert result.exit_code == (0 if passes else 1), result.output
    found = json.loads(report.read_text())
    stage = "passed" if passes else "smoke"
    assert (found["ok"], found["stage"], found["torn_down"]) == (passes, stage, True)
    assert [(s["name"], s["ok"]) for s in found["smoke"]] == [
        ("healthz", True),
        ("fetch", passes),
        ("shell", True),
        ("port", True),
    ]
    [record] = [json.loads(line) for line in (catalog.parent / "upgrade-ledger.jsonl").read_text().splitlines()]
    assert (record["verdict"], record["stage"]) == ("passed" if passes else "failed", stage)
    assert leftovers(client, f"{PROJECT}-validate-web") == []
    return found


def test_a_host_smoke_test_reaches_the_candidate_and_decides_the_verdict(
    images: str, docker_host: str, tmp_path: Path
) -> None:
    client = docker.DockerClient(base_url=docker_host, timeout=120)
    passing = _catalog(
        tmp_path / "passing",
        images,
        {"name": "fetch", "host": [sys.executable, "-c", FETCH, "{url}/healthz"], "contains": "ok v1.1.0"},
    )
    report = _validate(client, passing, tmp_path / "passing.json", passes=True)
    detail = report["smoke"][1]["detail"]
    assert "exit 0, contains 'ok v1.1.0': True" in detail and ":8000 8000" in detail, detail
    address = detail.split("http://", 1)[1].split(":", 1)[0]
    assert address.count(".") == 3 and address != "127.0.0.1"  # the container's own address, nothing published

    failing = _catalog(
        tmp_path / "failing",
        images,
        {"name": "fetch", "host": [sys.executable, "-c", FETCH, "{url}/no-such-page"], "timeout": "30s"},
    )
    report = _validate(client, failing, tmp_path / "failing.json", passes=False)
    assert "exit 1" in report["smoke"][1]["detail"] and "404" in report["smoke"][1]["detail"]
