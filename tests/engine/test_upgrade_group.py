"""A lockstep group (`upgrade.group`) validated for real: every member at the candidate version in ONE throw-away
project on a real engine, pulled from a real local registry (the `images` fixture, tests/engine/conftest.py), with
the union of their dependencies; one verdict and one ledger record for the group; a failing member fails the group.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import docker
import yaml
from typer.testing import CliRunner

from aipair.cli import app
from aipair.ops.upgrade import ledger

from ..helpers.registry import manifest_digest
from ..helpers.shell_images import SERVE, push_shell_images
from ..helpers.upgrade import leftovers

runner = CliRunner()
PROJECT = "grpval"  # no other test uses this Compose project name
THROWAWAY = f"{PROJECT}-validate-duo"
NEVER_HEALTHY = "echo '{name}: refusing to start, needs api 1.3' >&2; exec tail -f /dev/null"
# A host smoke test's catalog (AIPAIR_CATALOG): both members at the candidate image, as they run together.
IMAGES = "import os, yaml; s = yaml.safe_load(open(os.environ['AIPAIR_CATALOG']))['services']; "
IMAGES += "print(s['gui']['image'], s['api']['image'])"


def _catalog(tmp_path: Path, address: str) -> Path:
    """cache (no group) and the group `duo`: api (depends on cache) and gui (depends on api; its smoke test asks
    api for its version over the project's network, so it passes only with the candidate api running beside it)."""
    health = {"type": "http", "port": 8000, "path": "/healthz", "probe": "wget", "interval": "1s", "retries": 5,
              "start_period": "1s", "timeout": "2s"}  # fmt: skip
    data = {
        "version": 1,
        "project": {"name": PROJECT, "domain": f"{PROJECT}.example.com", "tls": {"acme_email": "o@example.com"}},
        "services": {
            "cache": {"layer": "data", "kind": "stateful", "mock": False, "init": True,
                      "image": f"{address}/aipair/cache:1.0.0", "ports": [{"port": 8000}], "health": health},
            "api": {"layer": "application", "mock": False, "init": True, "image": f"{address}/aipair/grpapi:1.0.0",
                    "ports": [{"port": 8000}], "health": health, "depends_on": ["cache"],
                    "upgrade": {"group": "duo"}, "smoke": [{"name": "healthz", "http": "/healthz", "contains": "api"},
                                                           {"name": "catalog", "host": [sys.executable, "-c", IMAGES],
                                                            "contains": f"{address}/aipair/grpgui:1.1.0 "
                                                                        f"{address}/aipair/grpapi:1.1.0"}]},
            "gui": {"layer": "application", "mock": False, "init": True, "image": f"{address}/aipair/grpgui:1.0.0",
                    "ports": [{"port": 8000}], "health": health, "depends_on": ["api"], "upgrade": {"group": "duo"},
                    "smoke": [{"name": "sees-api", "command": ["wget", "-qO-", "http://api:8000/healthz"],
                               "contains": "api 1.1.0"}]},
        },
    }  # fmt: skip
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_group_is_validated_in_one_project_and_a_failing_member_fails_it(
    images: str, docker_host: str, tmp_path: Path
) -> None:
    client = docker.DockerClient(base_url=docker_host, timeout=120)
    # each made on the engine from busybox, pushed, and removed from the engine again (so that the throw-away
    # project pulls it from the registry)
    api = {tag: SERVE.format(text=f"api {tag}") for tag in ("1.0.0", "1.1.0", "1.2.0")}
    push_shell_images(client, f"{images}/aipair/grpapi", api, keep=False)
    gui = {tag: SERVE.format(text=f"gui {tag}") for tag in ("1.0.0", "1.1.0")}
    gui["1.2.0"] = NEVER_HEALTHY.format(name="gui 1.2.0")
    push_shell_images(client, f"{images}/aipair/grpgui", gui, keep=False)
    try:
        catalog = _catalog(tmp_path, images)
        original = catalog.read_text()
        report_file = tmp_path / "group.json"

        # asked for one member (gui), the whole group runs: both at 1.1.0, together, with cache at its pinned version
        good = runner.invoke(
            app, ["upgrade", "validate", "gui", "1.1.0", "--catalog", str(catalog),
                  "--report", str(report_file), "--timeout", "60"],
        )  # fmt: skip
        assert good.exit_code == 0, good.output
        assert (
            f"reading {images}/aipair/grpgui:1.1.0, {images}/aipair/grpapi:1.1.0 from their registries" in good.output
        )
        assert (
            "group duo: starting gui, api together at 1.1.0 with 1 dependencies in grpval-validate-duo" in good.output
        )
        report = json.loads(report_file.read_text())
        assert (report["ok"], report["stage"], report["torn_down"]) == (True, "passed", True)
        assert (report["project"], report["group"], report["failed"]) == (THROWAWAY, "duo", [])
        assert report["members"] == {"gui": f"{images}/aipair/grpgui:1.1.0", "api": f"{images}/aipair/grpapi:1.1.0"}
        # one project: every container of it, both members at the candidate image
        assert {s["service"]: s["image"] for s in report["services"]} == {
            "cache": f"{images}/aipair/cache:1.0.0",
            "api": f"{images}/aipair/grpapi:1.1.0",
            "gui": f"{images}/aipair/grpgui:1.1.0",
        }
        assert all(s["name"].startswith(f"{THROWAWAY}-") and s["state"] == "running" for s in report["services"])
        # each member's smoke tests ran; gui's reached the candidate api over the project network: at the same time
        assert [(s["name"], s["ok"]) for s in report["smoke"]] == [
            ("gui: sees-api", True),
            ("api: healthz", True),
            ("api: catalog", True),
        ]
        assert "api 1.1.0" in report["smoke"][0]["detail"]
        assert leftovers(client, THROWAWAY) == []

        [record] = [r.model_dump() for r in ledger.read(tmp_path / "upgrade-ledger.jsonl")]
        assert record["services"] == [
            {"name": "gui", "tag": "1.1.0", "digest": manifest_digest(images, "aipair/grpgui", "1.1.0")},
            {"name": "api", "tag": "1.1.0", "digest": manifest_digest(images, "aipair/grpapi", "1.1.0")},
        ]
        assert (record["verdict"], record["stage"]) == ("passed", "passed")
        assert record["catalog"] == ledger.context_hash(original, ["api", "gui"])

        # gui 1.2.0 never turns healthy: the group fails at health, naming gui; api 1.2.0 alone would have passed
        bad = runner.invoke(
            app, ["upgrade", "validate", "api", "1.2.0", "--no-inspect", "--catalog", str(catalog), "--json",
                  "--timeout", "20"],
        )  # fmt: skip
        assert bad.exit_code == 1, bad.output
        failed = json.loads(bad.stdout)
        assert (failed["ok"], failed["stage"], failed["failed"], failed["project"]) == (
            False,
            "health",
            ["gui"],
            THROWAWAY,
        )
        assert "refusing to start" in failed["logs"]["gui"]
        assert leftovers(client, THROWAWAY) == []
        last = ledger.read(tmp_path / "upgrade-ledger.jsonl")[-1]
        assert (last.verdict, [s.name for s in last.services]) == ("failed", ["api", "gui"])

        # the group's passing record lets `upgrade apply` of either member pin both
        applied = runner.invoke(app, ["upgrade", "apply", "api", "1.1.0", "--catalog", str(catalog), "--json"])
        assert applied.exit_code == 0, applied.output
        text = catalog.read_text()
        assert f"grpapi:1.1.0@{manifest_digest(images, 'aipair/grpapi', '1.1.0')}" in text
        assert f"grpgui:1.1.0@{manifest_digest(images, 'aipair/grpgui', '1.1.0')}" in text
        refused = runner.invoke(app, ["upgrade", "apply", "gui", "1.2.0", "--catalog", str(catalog), "--json"])
        assert refused.exit_code == 2 and "did not pass" in json.loads(refused.stdout)["error"]
    finally:  # the candidates the throw-away projects pulled: nothing of this test stays on the shared engine
        for image in client.images.list():
            for tag in image.tags:
                if tag.startswith((f"{images}/aipair/grpapi:", f"{images}/aipair/grpgui:")):
                    client.images.remove(tag, force=True)
