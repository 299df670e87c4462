"""`aipair upgrade validate` on a real engine, pulling candidates from a real local registry
(the `images` fixture, tests/engine/conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import docker
from typer.testing import CliRunner

from aipair.cli import app

from ..helpers.commands import interruptible
from ..helpers.upgrade import leftovers as _leftovers
from ..helpers.upgrade import validate_args
from ..helpers.upgrade import validate_catalog as _catalog

runner = CliRunner()


def test_good_candidate_passes_broken_one_fails_and_the_platform_is_untouched(
    images: str, docker_host: str, tmp_path: Path
) -> None:
    client = docker.DockerClient(base_url=docker_host, timeout=120)
    catalog = _catalog(tmp_path, images)
    deployed = runner.invoke(app, ["deploy", "--catalog", str(catalog), "--timeout", "60"])
    assert deployed.exit_code == 0, deployed.output
    platform = {c.name: c.id for c in client.containers.list(filters={"label": "com.docker.compose.project=up"})}
    assert set(platform) == {"up-cache-1", "up-web-1"}
    try:
        report_file = tmp_path / "good.json"
        good = runner.invoke(app, validate_args(catalog, "1.1.0", report_file))
        assert good.exit_code == 0, good.output
        report = json.loads(report_file.read_text())
        assert report["ok"] and report["stage"] == "passed" and report["torn_down"]
        assert report["image"] == f"{images}/aipair/web:1.1.0"
        assert {s["service"]: s["image"] for s in report["services"]} == {
            "cache": f"{images}/aipair/cache:1.0.0",
            "web": f"{images}/aipair/web:1.1.0",
        }
        assert [(s["name"], s["ok"]) for s in report["smoke"]] == [("healthz", True), ("shell", True), ("port", True)]
        assert _leftovers(client, "up-validate-web") == []

        bad = runner.invoke(
            app, ["upgrade", "validate", "web", "1.2.0", "--catalog", str(catalog), "--json", "--timeout", "20"]
        )
        assert bad.exit_code == 1
        failed = json.loads(bad.stdout)
        assert not failed["ok"] and failed["stage"] == "health" and failed["torn_down"]
        assert "schema migration missing" in failed["logs"]["web"]
        assert _leftovers(client, "up-validate-web") == []

        # the running platform never noticed: same containers, still serving the old version
        assert {
            c.name: c.id for c in client.containers.list(filters={"label": "com.docker.compose.project=up"})
        } == platform
        import urllib.request

        with urllib.request.urlopen("http://127.0.0.1:18200/healthz", timeout=5) as response:
            assert response.read() == b"ok v1.0.0\n"
    finally:
        runner.invoke(app, ["down", "--volumes", "--yes", "--catalog", str(catalog)])


def _commented(tmp_path: Path, address: str) -> tuple[Path, str]:
    path = _catalog(tmp_path, address)
    text = path.read_text()
    text = (
        "# Platform catalog for the upgrade tests.\n# Comments must survive every edit.\n"
        + text.replace("  web:\n", "  # the public web service\n  web:\n").replace(
            f"image: {address}/aipair/web:1.0.0", f"image: {address}/aipair/web:1.0.0  # pinned by hand"
        )
        + "# end of catalog\n"
    )
    path.write_text(text)
    return path, text


def test_apply_keeps_every_comment_pins_the_digest_and_rollback_restores(images: str, tmp_path: Path) -> None:
    import httpx

    path, original = _commented(tmp_path, images)
    result = runner.invoke(app, ["upgrade", "apply", "web", "1.1.0", "--unvalidated", "--catalog", str(path), "--json"])
    assert result.exit_code == 0, result.output
    digest = httpx.head(
        f"http://{images}/v2/aipair/web/manifests/1.1.0",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    ).headers["docker-content-digest"]
    after = path.read_text()
    changed = [(a, b) for a, b in zip(original.splitlines(), after.splitlines()) if a != b]
    assert changed == [
        (
            f"    image: {images}/aipair/web:1.0.0  # pinned by hand",
            f"    image: {images}/aipair/web:1.1.0@{digest}  # pinned by hand",
        )
    ]
    assert len(after.splitlines()) == len(original.splitlines())
    assert f"image: {images}/aipair/web:1.1.0@{digest}" in (tmp_path / "compose" / "docker-compose.yml").read_text()
    assert "compose/docker-compose.yml" in json.loads(result.stdout)["changed_files"]

    back = runner.invoke(app, ["rollback", "web", "--catalog", str(path)])
    assert back.exit_code == 0, back.output
    assert path.read_text() == original
    again = runner.invoke(app, ["rollback", "web", "--catalog", str(path)])
    assert again.exit_code == 1 and "no recorded upgrade of 'web'" in again.stderr


def test_apply_deploy_of_a_broken_candidate_keeps_the_old_version(
    images: str, docker_host: str, tmp_path: Path
) -> None:
    client = docker.DockerClient(base_url=docker_host, timeout=120)
    path, original = _commented(tmp_path, images)
    assert runner.invoke(app, ["deploy", "--catalog", str(path), "--timeout", "60"]).exit_code == 0
    try:
        result = runner.invoke(
            app,
            [
                "upgrade",
                "apply",
                "web",
                "1.2.0",
                "--unvalidated",
                "--deploy",
                "--timeout",
                "20",
                "--catalog",
                str(path),
            ],
        )
        assert result.exit_code == 1, result.output
        assert "the previous version runs again and the catalog was restored" in result.stderr
        assert path.read_text() == original
        web = client.containers.get("up-web-1")
        assert web.attrs["Config"]["Image"] == f"{images}/aipair/web:1.0.0"
        assert web.attrs["State"]["Health"]["Status"] == "healthy"
        assert runner.invoke(app, ["rollback", "web", "--catalog", str(path)]).exit_code == 1  # nothing recorded
    finally:
        runner.invoke(app, ["down", "--volumes", "--yes", "--catalog", str(path)])


def test_ctrl_c_during_validation_still_tears_down(images: str, docker_host: str, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    client = docker.DockerClient(base_url=docker_host, timeout=120)
    path = _catalog(tmp_path, images)
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "aipair"),
            "upgrade",
            "validate",
            "web",
            "1.2.0",
            "--timeout",
            "120",
            "--catalog",
            str(path),
        ],
        env={**os.environ, "DOCKER_HOST": docker_host},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,
    )
    deadline = time.monotonic() + 60
    while not [
        c
        for c in client.containers.list(filters={"label": "com.docker.compose.project=up-validate-web"})
        if c.labels.get("com.docker.compose.service") == "web"
    ]:
        assert process.poll() is None and time.monotonic() < deadline, "the candidate never started"
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)  # what Ctrl-C sends
    _, stderr = process.communicate(timeout=120)
    assert process.returncode != 0
    assert "Traceback" not in stderr
    assert _leftovers(client, "up-validate-web") == []
