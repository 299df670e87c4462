"""`aipair images inspect`, `aipair catalog verify --images` and the upgrade commands' image stage, end to end:
the real CLI, the registry engine and a real OCI registry (Debian's docker-registry) holding images built here
(tests/helpers/oci.py: the static busybox, users, ports, volumes). No Docker engine is needed, and none is
reachable: DOCKER_HOST points at nothing, so nothing can have run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..helpers.commands import invoke
from ..helpers.oci import Image, Pusher, file, folder, symlink
from ..helpers.registry import running_registry

BUSYBOX = Path("/bin/busybox").read_bytes()


def busybox_layers(*, wget: bool) -> list[list[Any]]:
    base = [folder("bin"), file("bin/busybox", BUSYBOX), symlink("bin/sh", "busybox"), folder("usr/bin")]
    return [base, [symlink("usr/bin/wget", "/bin/busybox")] if wget else []]


def web(*, wget: bool) -> Image:
    return Image(layers=busybox_layers(wget=wget), ports=["8080/tcp"], cmd=["sh"])


def api(*, user: str = "1000:1000") -> Image:
    layers = busybox_layers(wget=True)
    layers.append([folder("srv", uid=1000, gid=1000, mode=0o755)])
    return Image(layers=layers, user=user, ports=["9000/tcp"], volumes=["/srv/data"])


IMAGES = {
    "web:1.0.0": web(wget=True),
    "web:1.1.0": web(wget=False),  # the upgrade drops wget, which the health check runs
    "api:1.0.0": api(),
    "api:1.0.1": api(),  # a patch that keeps everything
    "old:1.0.0": Image(layers=busybox_layers(wget=False), ports=["80/tcp"]),  # the catalog is already wrong
}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("verify-registry")
    with running_registry(base) as address:
        with Pusher(address) as pusher:
            for name, image in IMAGES.items():
                repository, tag = name.split(":")
                pusher.image(f"aipair/{repository}", tag, image)
        yield address


def catalog(directory: Path, address: str, *, broken: bool = False) -> Path:
    services: dict[str, Any] = {
        "web": {
            "layer": "application",
            "image": f"{address}/aipair/web:1.0.0",
            "runs_as_root": True,
            "ports": [{"name": "http", "port": 8080}],
            "health": {"type": "http", "port": 8080, "path": "/", "probe": "wget"},
            "upgrade": {"track": "minor"},
        },
        "api": {
            "layer": "application",
            "image": f"{address}/aipair/api:1.0.0",
            "ports": [{"name": "http", "port": 9000}],
            "health": {"type": "http", "port": 9000, "path": "/", "probe": "wget"},
            "volumes": [{"name": "data", "path": "/srv/data"}],
            "upgrade": {"track": "patch"},
        },
    }
    if broken:
        services["old"] = {
            "layer": "application",
            "image": f"{address}/aipair/old:1.0.0",
            "ports": [{"name": "http", "port": 8000}],
            "health": {"type": "http", "port": 8000, "path": "/", "probe": "curl"},
        }
    document = {
        "version": 1,
        "project": {"name": "verify", "domain": "verify.example.com", "tls": {"acme_email": "ops@verify.example.com"}},
        "services": services,
    }
    path = directory / "catalog.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No engine anywhere; an empty docker config (anonymous pulls); a cache of this test's own."""
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "config.json").write_text("{}")
    return {
        "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock",
        "DOCKER_CONFIG": str(tmp_path / "docker"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "COLUMNS": "200",
    }


def run(env: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    result = invoke([*args, "--json"], env)
    return result.exit_code, json.loads(result.stdout)


def test_verify_passes_a_catalog_whose_assumptions_hold_and_caches_the_facts(
    registry: str, tmp_path: Path, env: dict[str, str]
) -> None:
    path = catalog(tmp_path, registry)
    code, report = run(env, "catalog", "verify", "--images", "--catalog", str(path))
    assert code == 0, report
    rows = {s["service"]: s for s in report["services"]}
    assert {name: row["verdict"] for name, row in rows.items()} == {"web": "pass", "api": "pass"}
    probe = next(c for c in rows["web"]["checks"] if c["check"] == "probe")
    assert "/usr/bin/wget" in probe["reason"]
    volumes = next(c for c in rows["api"]["checks"] if c["check"] == "volumes")
    assert volumes["verdict"] == "pass", volumes
    cached = sorted((tmp_path / "cache" / "aipair" / "images").rglob("facts-*.json"))
    assert len(cached) == 2  # one per image, keyed by its manifest digest
    again, second = run(env, "catalog", "verify", "--images", "--catalog", str(path))
    assert (again, second) == (code, report)
    assert sorted((tmp_path / "cache" / "aipair" / "images").rglob("facts-*.json")) == cached


def test_verify_names_the_broken_assumption_and_exits_1(registry: str, tmp_path: Path, env: dict[str, str]) -> None:
    code, report = run(env, "catalog", "verify", "--images", "--catalog", str(catalog(tmp_path, registry, broken=True)))
    assert code == 1
    old = next(s for s in report["services"] if s["service"] == "old")
    verdicts = {c["check"]: (c["verdict"], c["reason"]) for c in old["checks"]}
    assert verdicts["probe"][0] == "fail" and "curl" in verdicts["probe"][1]
    assert verdicts["ports"][0] == "fail" and "8000" in verdicts["ports"][1]  # the image exposes 80 only
    assert verdicts["user"][0] == "fail"  # the image runs as root; the catalog does not say runs_as_root


def test_inspect_shows_a_services_image(registry: str, tmp_path: Path, env: dict[str, str]) -> None:
    code, report = run(env, "images", "inspect", "api", "--catalog", str(catalog(tmp_path, registry)))
    assert code == 0, report
    facts = report["facts"]
    assert facts["user"] == "1000:1000" and facts["exposed_ports"] == ["9000/tcp"] and facts["has_platform"]
    assert facts["digest"].startswith("sha256:") and facts["size"] > 0
    assert {p["name"]: p["path"] for p in facts["programs"]}["wget"] == "/usr/bin/wget"


def test_upgrade_check_rejects_a_candidate_that_drops_the_probe_program(
    registry: str, tmp_path: Path, env: dict[str, str]
) -> None:
    candidates = tmp_path / "candidates.json"
    path = catalog(tmp_path, registry)
    code, report = run(env, "upgrade", "check", "--catalog", str(path), "--candidates-file", str(candidates))
    assert code == 10, report  # api is due and goes on to validation; web's rejection is in the report
    assert (report["due"], report["rejected"]) == (1, 1)
    rows = {r["service"]: r for r in report["services"]}
    assert rows["web"]["candidate"] == "1.1.0" and rows["web"]["assumptions"]["verdict"] == "broken"
    broken = rows["web"]["assumptions"]["broken"]
    assert [c["check"] for c in broken] == ["probe"] and "wget" in broken[0]["reason"]
    assert rows["api"]["candidate"] == "1.0.1" and rows["api"]["assumptions"]["verdict"] == "kept"
    assert json.loads(candidates.read_text()) == [{"service": "api", "version": "1.0.1"}]
    skipped = run(env, "upgrade", "check", "--no-inspect", "--catalog", str(path))
    assert skipped[0] == 10 and skipped[1]["due"] == 2  # without the image stage both are due
    path.write_text(path.read_text().replace("track: patch", "track: none"))  # only web has a candidate now
    alone, report = run(env, "upgrade", "check", "--catalog", str(path))
    assert alone == 1 and (report["due"], report["rejected"]) == (0, 1)  # nothing due, a rejection: look at it


def test_upgrade_validate_stops_at_the_image_before_anything_runs(
    registry: str, tmp_path: Path, env: dict[str, str]
) -> None:
    report_file = tmp_path / "report.json"
    path = catalog(tmp_path, registry)
    code, report = run(env, "upgrade", "validate", "web", "1.1.0", "--catalog", str(path), "--report", str(report_file))
    assert code == 1, report
    assert report["stage"] == "image" and report["ok"] is False and report["services"] == []
    assert report["assumptions"]["broken"][0]["check"] == "probe"
    assert json.loads(report_file.read_text()) == report  # what the Kestra flow keeps as its output
