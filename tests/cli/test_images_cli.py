"""`aipair images inspect` and `aipair catalog verify --images`: the commands' shape (tables, JSON keys, exit
codes) with the inspector's answers given in the test. End-to-end runs against the real registry come with
the engine (tests/engine/test_image_inspect.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aipair.engines.image_facts import PROBE_PROGRAMS, ImageFacts, PathInfo, ProgramLookup
from aipair.ops import images
from aipair.ops.images import ImageRequest, InspectFailure
from tests.helpers import catalogs
from tests.helpers.commands import invoke

WEB = "ghcr.io/demo/web:1.2.3"
REDIS = "redis:7.4.2-alpine"


def facts(reference: str, *, user: str = "", programs: dict[str, str] | None = None, **more: object) -> ImageFacts:
    found = programs or {}
    return ImageFacts.model_validate(
        {
            "reference": reference,
            "digest": "sha256:" + "b" * 64,
            "index_digest": "sha256:" + "c" * 64,
            "platforms": ["linux/amd64", "linux/arm64"],
            "has_platform": True,
            "user": user,
            "entrypoint": ["/docker-entrypoint.sh"],
            "cmd": ["serve", "--port", "8000"],
            "exposed_ports": ["8000/tcp"],
            "env_keys": ["PATH", "APP_SECRET"],
            "path": ["/usr/bin", "/bin"],
            "size": 12_345_678,
            "layers": 3,
            "programs": [
                ProgramLookup(name=name, path=found.get(name), target="/bin/busybox" if name in found else None)
                for name in dict.fromkeys([*found, *PROBE_PROGRAMS])
            ],
            **more,
        }
    )


GOOD_WEB = facts(WEB, user="1000", programs={"wget": "/usr/bin/wget", "sh": "/bin/sh"})
GOOD_REDIS = facts(
    REDIS,
    user="999",
    programs={"redis-cli": "/usr/local/bin/redis-cli"},
    exposed_ports=["6379/tcp"],
    paths=[PathInfo(path="/data", exists=True, kind="dir", uid=999, gid=999, mode=0o755)],
)


class Answers:
    """Stand-in: the registry engine is tested in tests/engine/test_image_inspect.py. It answers each image
    with the facts (or failure) this test sets, so the command's tables, JSON and exit codes can be checked."""

    def __init__(self, answers: dict[str, ImageFacts | InspectFailure]) -> None:
        self.answers = answers

    def __call__(self, requests: list[ImageRequest]) -> list[ImageFacts | InspectFailure]:
        return [self.answers[request.image] for request in requests]


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    return catalogs.write(tmp_path, catalogs.minimal())


def answering(monkeypatch: pytest.MonkeyPatch, answers: dict[str, ImageFacts | InspectFailure]) -> None:
    # stand-in: the registry engine is tested in tests/engine/test_image_inspect.py
    monkeypatch.setattr(images, "registry_inspector", lambda: Answers(answers))


def verify(catalog: Path, *more: str) -> Any:
    return invoke(["catalog", "verify", "--images", "--catalog", str(catalog), *more], env={"COLUMNS": "200"})


def test_verify_shows_a_table_of_service_by_check_and_exits_0(monkeypatch: pytest.MonkeyPatch, catalog: Path) -> None:
    answering(monkeypatch, {WEB: GOOD_WEB, REDIS: GOOD_REDIS})
    result = verify(catalog, "--service", "web", "--service", "cache")
    assert result.exit_code == 0, result.output
    for text in (
        "web",
        "cache",
        "platform",
        "probe",
        "ports",
        "user",
        "volumes",
        "wget at /usr/bin/wget",
        "/data exists (dir, owner 999:999, mode 0755)",
        "every image keeps the catalog's assumptions",
    ):
        assert text in result.stdout


def test_verify_json_keys(monkeypatch: pytest.MonkeyPatch, catalog: Path) -> None:
    answering(monkeypatch, {WEB: GOOD_WEB, REDIS: GOOD_REDIS})
    result = verify(catalog, "--service", "web", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert list(document) == ["ok", "inspected", "unreachable", "services"]
    (row,) = document["services"]
    assert list(row) == ["service", "image", "verdict", "digest", "error", "skipped", "checks"]
    assert [check["check"] for check in row["checks"]] == ["platform", "probe", "ports", "user", "volumes"]
    assert list(row["checks"][0]) == ["check", "verdict", "reason"]
    assert (document["ok"], row["verdict"], row["digest"]) == (True, "pass", "sha256:" + "b" * 64)


def test_verify_exits_1_when_a_check_fails(monkeypatch: pytest.MonkeyPatch, catalog: Path) -> None:
    curl_only = facts(WEB, user="1000", programs={"curl": "/usr/bin/curl"})
    answering(monkeypatch, {WEB: curl_only, REDIS: GOOD_REDIS})
    result = verify(catalog, "--service", "web", "--service", "cache")
    assert result.exit_code == 1, result.output
    assert "use probe: curl which the image has" in result.stdout
    assert "some images break the catalog's assumptions" in result.stdout


def test_verify_exits_1_when_one_image_cannot_be_read(monkeypatch: pytest.MonkeyPatch, catalog: Path) -> None:
    down = InspectFailure(image=REDIS, error="registry-1.docker.io refused the credentials (401)")
    answering(monkeypatch, {WEB: GOOD_WEB, REDIS: down})
    result = verify(catalog, "--service", "web", "--service", "cache", "--json")
    assert result.exit_code == 1, result.output
    rows = {row["service"]: row for row in json.loads(result.stdout)["services"]}
    assert (rows["cache"]["verdict"], rows["cache"]["error"]) == ("error", down.error)


def test_verify_exits_3_when_no_image_can_be_read(monkeypatch: pytest.MonkeyPatch, catalog: Path) -> None:
    answering(monkeypatch, {image: InspectFailure(image=image, error="connection refused") for image in (WEB, REDIS)})
    result = verify(catalog, "--service", "web", "--service", "cache")
    assert result.exit_code == 3, result.output
    assert "connection refused" in result.stdout and "no image could be inspected" in result.stdout


def test_verify_an_unknown_service_exits_2_with_a_suggestion(monkeypatch: pytest.MonkeyPatch, catalog: Path) -> None:
    answering(monkeypatch, {})
    result = verify(catalog, "--service", "wbe")
    assert result.exit_code == 2
    assert "no service 'wbe' in the catalog; did you mean 'web'?" in result.stderr


def test_verify_without_images_says_what_to_add(catalog: Path) -> None:
    result = invoke(["catalog", "verify", "--catalog", str(catalog)], env={})
    assert result.exit_code == 2 and "--images" in result.stderr


def test_inspect_a_service_shows_its_facts(monkeypatch: pytest.MonkeyPatch, catalog: Path) -> None:
    answering(monkeypatch, {WEB: GOOD_WEB})
    result = invoke(["images", "inspect", "web", "--catalog", str(catalog)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for text in (
        "linux/amd64, linux/arm64",
        "sha256:" + "b" * 64,
        "/docker-entrypoint.sh",
        "serve --port 8000",
        "8000/tcp",
        "PATH, APP_SECRET",
        "12.3 MB in 3 layers",
        "wget  (the health check's)",
        "/usr/bin/wget → /bin/busybox",
        "not found",
    ):
        assert text in result.stdout


def test_inspect_an_image_as_json(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    answering(monkeypatch, {"busybox:1.36.1": facts("busybox:1.36.1")})
    # No catalog is read for an image reference: this one does not exist.
    result = invoke(["images", "inspect", "busybox:1.36.1", "--json", "--catalog", str(tmp_path / "none.yaml")], env={})
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert list(document) == ["ok", "service", "image", "probe_program", "facts"]
    assert document["facts"]["env_keys"] == ["PATH", "APP_SECRET"] and document["service"] is None


def test_inspect_exit_codes(monkeypatch: pytest.MonkeyPatch, catalog: Path) -> None:
    answering(monkeypatch, {WEB: InspectFailure(image=WEB, error="ghcr.io: connection refused")})
    result = invoke(["images", "inspect", "web", "--catalog", str(catalog), "--json"], env={})
    assert result.exit_code == 3
    assert json.loads(result.stdout) == {"ok": False, "error": f"{WEB}: ghcr.io: connection refused"}
    result = invoke(["images", "inspect", "wbe", "--catalog", str(catalog)], env={})
    assert result.exit_code == 2 and "did you mean 'web'?" in result.stderr


@pytest.mark.parametrize("command", [["images", "inspect"], ["catalog", "verify"]])
def test_help_has_examples(command: list[str]) -> None:
    result = invoke([*command, "--help"], env={})
    assert result.exit_code == 0 and "Examples:" in result.stdout and "--json" in result.stdout
