"""The Kestra validation flow run for real through ContractKestra: git, aipair, the Docker engine and
the OCI registry of the upgrade tests (the `images` fixture, tests/engine/conftest.py).

ContractKestra (tests/helpers/kestra_contract.py) is a TEST DOUBLE of the Kestra server; every test
that talks to it says `contract` in its name.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path

import pytest

from ..helpers.commands import invoke as _invoke
from ..helpers.kestra import PASSWORD, USER
from ..helpers.kestra import kestra_env as _env
from ..helpers.kestra_contract import ContractKestra
from ..helpers.upgrade import git, platform_repository, validate_flow_args
from ..helpers.upgrade import leftovers as _leftovers
from ..helpers.webhook import Webhook

# --- the validation flow, run for real through ContractKestra ------------------------------------------


@pytest.fixture()
def platform_repo(images: str, tmp_path: Path) -> tuple[Path, Path]:
    """A bare git repository holding a catalog of the registry's images, with kestra settings."""
    kestra = {
        "runner": "process",
        "validate_timeout": 25,
        "retries": 0,
        "propose": "branch",
        "notify_secret": "AIPAIR_NOTIFY_WEBHOOK",
    }
    return platform_repository(tmp_path, images, kestra)


def test_contract_validation_flow_runs_for_real_good_candidate_succeeds_broken_one_fails(
    platform_repo: tuple[Path, Path], docker_host: str, tmp_path: Path
) -> None:
    import docker

    catalog, bare = platform_repo
    webhook = Webhook()
    webhook.start()
    worker = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "DOCKER_HOST": docker_host,
        "SECRET_AIPAIR_NOTIFY_WEBHOOK": base64.b64encode(webhook.url.encode()).decode(),
    }
    try:
        with ContractKestra(username=USER, password=PASSWORD, worker_env=worker) as server:
            env = _env(server)
            registered = _invoke(["flows", "register", "--catalog", str(catalog)], env)
            assert registered.exit_code == 0, registered.output

            good = _invoke(validate_flow_args(catalog, "1.1.0"), env)
            assert good.exit_code == 0, good.output
            execution = json.loads(good.stdout)
            assert execution["state"] == "SUCCESS" and execution["outputs"]["verdict"] == "passed"
            assert [t["task"] for t in execution["tasks"]] == ["validate", "decide", "propose"]
            report = json.loads(server._read(execution["outputs"]["report"]))
            assert report["ok"] and report["service"] == "web" and report["version"] == "1.1.0" and report["torn_down"]
            # the proposal: a pushed branch whose catalog pins the candidate by digest
            branch = "aipair/upgrade-web-1.1.0"
            pinned = git("show", f"{branch}:catalog.yaml", cwd=bare)
            assert f"{report['image']}@sha256:" in pinned
            assert "validated by Kestra execution" in git("log", "-1", "--format=%s", branch, cwd=bare)
            assert webhook.received == []

            bad = _invoke(validate_flow_args(catalog, "1.2.0"), env)
            assert bad.exit_code == 1, bad.output
            failed = json.loads(bad.stdout)
            assert failed["state"] == "FAILED"
            states = {t["task"]: t["state"] for t in failed["tasks"]}
            assert states == {
                "validate": "SUCCESS",
                "reject": "FAILED",
                "decide": "FAILED",
                "log-failure": "SUCCESS",
                "notify-failure": "SUCCESS",
            }
            assert [(m["service"], m["version"], m["result"]) for m in webhook.received] == [
                ("web", "1.2.0", "failed validation")
            ]
            assert "aipair/upgrade-web-1.2.0" not in git("branch", "--list", cwd=bare)

            # The scheduled flow, started by hand: upgrade check finds web 1.2.0 (1.1.0 is older) and
            # nothing for cache; one validation subflow runs and fails, the watch itself succeeds.
            watch = _invoke(["flows", "run", "watch-versions", "--catalog", str(catalog), "--json"], env)
            assert watch.exit_code == 0, watch.output
            watched = json.loads(watch.stdout)
            assert [(t["task"], t["state"]) for t in watched["tasks"]] == [
                ("check", "SUCCESS"),
                ("each-candidate", "SUCCESS"),
                ("validate", "SUCCESS"),
            ]
            assert json.loads(watched["tasks"][2]["value"]) == {"service": "web", "version": "1.2.0"}
            assert [(m["service"], m["version"]) for m in webhook.received] == [("web", "1.2.0"), ("web", "1.2.0")]
            children = [e for e in server.executions.values() if e["parentId"] == watched["id"]]
            assert [(c["flowId"], c["state"]["current"], c["inputs"]) for c in children] == [
                ("validate-candidate", "FAILED", {"service": "web", "version": "1.2.0"})
            ]

            status = _invoke(["flows", "status", "--catalog", str(catalog), "--json"], env)
            assert {f["flow"]: f["last_state"] for f in json.loads(status.stdout)["flows"]} == {
                "validate-candidate": "FAILED",
                "watch-versions": "SUCCESS",
            }
            client = docker.DockerClient(base_url=docker_host, timeout=60)
            assert _leftovers(client, "up-validate-web") == []
    finally:
        webhook.shutdown()
