"""Attested validations on a real engine and a real local registry (the `images` fixture,
tests/engine/conftest.py): `upgrade validate` records its verdict in upgrade-ledger.jsonl, `upgrade apply`
pins only a digest with a passing record for the same catalog, and the Kestra proposal commits the record.

ContractKestra (tests/helpers/kestra_contract.py) is a TEST DOUBLE of the Kestra server; the test that talks
to it says `contract` in its name.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import docker
from typer.testing import CliRunner

from aipair.cli import app
from aipair.ops.upgrade import ledger

from ..helpers.commands import invoke as _invoke
from ..helpers.kestra import PASSWORD, USER
from ..helpers.kestra import kestra_env as _env
from ..helpers.kestra_contract import ContractKestra
from ..helpers.registry import manifest_digest
from ..helpers.shell_images import SERVE, push_shell_images
from ..helpers.upgrade import git, platform_repository, validate_args, validate_flow_args
from ..helpers.upgrade import leftovers as _leftovers
from ..helpers.upgrade import validate_catalog as _catalog

runner = CliRunner()


def _aipair(*args: str) -> Any:
    return runner.invoke(app, list(args))


def _records(catalog: Path) -> list[dict[str, Any]]:
    path = catalog.parent / "upgrade-ledger.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _push(client: Any, address: str, tag: str, text: str) -> str:
    """web:``tag`` serving ``text``, made on the engine and pushed; the engine's image id."""
    repository = f"{address}/aipair/web"
    push_shell_images(client, repository, {tag: SERVE.format(text=text)})
    return str(client.images.get(f"{repository}:{tag}").id)


def test_validate_then_apply_succeeds_and_apply_without_a_passing_record_is_refused(
    images: str, docker_host: str, tmp_path: Path
) -> None:
    catalog = _catalog(tmp_path, images)
    before = _files(tmp_path)

    refused = _aipair("upgrade", "apply", "web", "1.1.0", "--catalog", str(catalog), "--json")
    assert refused.exit_code == 2, refused.output
    error = json.loads(refused.stdout)["error"]
    digest = manifest_digest(images, "aipair/web", "1.1.0")
    assert f"web 1.1.0 ({digest}) has no passing validation for this catalog" in error
    assert "the ledger has no validation of it" in error
    assert f"`aipair upgrade validate web 1.1.0 --catalog {catalog}`" in error and "--unvalidated" in error
    assert {k: v for k, v in _files(tmp_path).items() if not k.endswith(".lock")} == before  # nothing written

    report_file = tmp_path / "report.json"
    validated = _aipair(*validate_args(catalog, "1.1.0", report_file))
    assert validated.exit_code == 0, validated.output
    [record] = _records(catalog)
    assert record["services"] == [{"name": "web", "tag": "1.1.0", "digest": digest}]
    assert (record["verdict"], record["stage"]) == ("passed", "passed")
    assert record["report"] == "sha256:" + hashlib.sha256(report_file.read_bytes()).hexdigest()
    assert record["catalog"] == ledger.context_hash(catalog.read_text(), ["web"])
    assert record["aipair"] == "0.1.0" and record["at"].endswith("+00:00")

    applied = _aipair("upgrade", "apply", "web", "1.1.0", "--catalog", str(catalog), "--json")
    assert applied.exit_code == 0, applied.output
    assert f"image: {images}/aipair/web:1.1.0@{digest}" in catalog.read_text()
    assert _records(catalog) == [record]  # a validated apply adds nothing
    assert ledger.context_hash(catalog.read_text(), ["web"]) == record["catalog"]  # the record fits the result

    # a failed validation is recorded too, and does not let its digest through
    failed = _aipair("upgrade", "validate", "web", "1.2.0", "--catalog", str(catalog), "--json", "--timeout", "20")
    assert failed.exit_code == 1, failed.output
    last = _records(catalog)[-1]
    assert (last["verdict"], last["stage"]) == ("failed", "health")
    assert last["report"] == ledger.report_hash(json.loads(failed.stdout))
    again = _aipair("upgrade", "apply", "web", "1.2.0", "--catalog", str(catalog), "--json")
    assert again.exit_code == 2 and "its validations in the ledger did not pass" in json.loads(again.stdout)["error"]
    client = docker.DockerClient(base_url=docker_host, timeout=60)
    assert _leftovers(client, "up-validate-web") == []


def test_a_tag_pushed_again_after_validation_is_refused(images: str, docker_host: str, tmp_path: Path) -> None:
    client = docker.DockerClient(base_url=docker_host, timeout=120)
    catalog = _catalog(tmp_path, images)
    first = _push(client, images, "1.3.0", "ok v1.3.0")
    old = manifest_digest(images, "aipair/web", "1.3.0")
    assert _aipair("upgrade", "validate", "web", "1.3.0", "--catalog", str(catalog), "--timeout", "60").exit_code == 0

    _push(client, images, "1.3.0", "ok v1.3.0, pushed again")
    new = manifest_digest(images, "aipair/web", "1.3.0")
    assert new != old
    refused = _aipair("upgrade", "apply", "web", "1.3.0", "--catalog", str(catalog), "--json")
    assert refused.exit_code == 2, refused.output
    error = json.loads(refused.stdout)["error"]
    assert f"web 1.3.0 ({new}) has no passing validation" in error
    assert f"passed for digest {old}" in error and "pushed again" in error
    assert "1.3.0" not in catalog.read_text()

    # the engine still has the old copy under the tag: validating it would attest the new digest for the old
    # image, so the run fails at stage "digest" (and is recorded as failed)
    client.api.tag(first, f"{images}/aipair/web", "1.3.0", force=True)
    stale = _aipair("upgrade", "validate", "web", "1.3.0", "--catalog", str(catalog), "--json", "--timeout", "60")
    assert stale.exit_code == 1, stale.output
    report = json.loads(stale.stdout)
    assert (report["ok"], report["stage"]) == (False, "digest")
    assert new in report["logs"]["(digest)"] and "docker pull" in report["logs"]["(digest)"]
    last = _records(catalog)[-1]
    assert (last["verdict"], last["stage"], last["services"][0]["digest"]) == ("failed", "digest", new)
    assert _aipair("upgrade", "apply", "web", "1.3.0", "--catalog", str(catalog)).exit_code == 2

    # pulled and validated again: now the new digest is attested and applies
    client.images.pull(f"{images}/aipair/web", "1.3.0")
    assert _aipair("upgrade", "validate", "web", "1.3.0", "--catalog", str(catalog), "--timeout", "60").exit_code == 0
    applied = _aipair("upgrade", "apply", "web", "1.3.0", "--catalog", str(catalog))
    assert applied.exit_code == 0, applied.output
    assert f"web:1.3.0@{new}" in catalog.read_text()
    assert [(r["verdict"], r["services"][0]["digest"]) for r in _records(catalog)] == [
        ("passed", old),
        ("failed", new),
        ("passed", new),
    ]


def test_an_unvalidated_apply_records_itself_and_counts_as_no_validation(images: str, tmp_path: Path) -> None:
    catalog = _catalog(tmp_path, images)
    original = catalog.read_text()
    applied = _aipair("upgrade", "apply", "web", "1.1.0", "--unvalidated", "--catalog", str(catalog), "--json")
    assert applied.exit_code == 0, applied.output
    digest = manifest_digest(images, "aipair/web", "1.1.0")
    assert f"web:1.1.0@{digest}" in catalog.read_text()
    [record] = _records(catalog)
    assert record["services"] == [{"name": "web", "tag": "1.1.0", "digest": digest}]
    assert (record["verdict"], record["stage"], record["report"]) == ("unvalidated", "apply", None)
    assert record["catalog"] == ledger.context_hash(original, ["web"])

    assert _aipair("rollback", "web", "--catalog", str(catalog)).exit_code == 0
    assert catalog.read_text() == original
    again = _aipair("upgrade", "apply", "web", "1.1.0", "--catalog", str(catalog), "--json")
    assert again.exit_code == 2 and "no passing validation" in json.loads(again.stdout)["error"]
    assert len(_records(catalog)) == 1


def test_a_damaged_ledger_stops_validate_and_apply_with_its_file_and_line(images: str, tmp_path: Path) -> None:
    catalog = _catalog(tmp_path, images)
    assert _aipair("upgrade", "apply", "web", "1.1.0", "--unvalidated", "--catalog", str(catalog)).exit_code == 0
    path = tmp_path / "upgrade-ledger.jsonl"
    path.write_text(path.read_text() + '{"services": [{"name": "web", "tag": "1.1\n')  # a cut-off write
    before = _files(tmp_path)
    for command in (["upgrade", "apply", "cache", "1.0.0", "--unvalidated"], ["upgrade", "validate", "web", "1.1.0"]):
        result = _aipair(*command, "--catalog", str(catalog), "--json")
        assert result.exit_code == 2, (command, result.output)
        assert json.loads(result.stdout)["error"].startswith(f"{path}:2: not a ledger record"), result.output
        assert {k: v for k, v in _files(tmp_path).items() if not k.endswith(".lock")} == {
            k: v for k, v in before.items() if not k.endswith(".lock")
        }


def test_contract_the_kestra_proposal_commits_the_passing_record_with_the_change(
    images: str, docker_host: str, tmp_path: Path
) -> None:
    kestra = {"runner": "process", "validate_timeout": 25, "retries": 0, "propose": "branch"}
    catalog, bare = platform_repository(tmp_path, images, kestra)
    worker = {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "DOCKER_HOST": docker_host}
    with ContractKestra(username=USER, password=PASSWORD, worker_env=worker) as server:
        env = _env(server)
        assert _invoke(["flows", "register", "--catalog", str(catalog)], env).exit_code == 0
        good = _invoke(validate_flow_args(catalog, "1.1.0"), env)
        assert good.exit_code == 0, good.output
        execution = json.loads(good.stdout)
        assert [t["task"] for t in execution["tasks"]] == ["validate", "decide", "propose"]
        report = server._read(execution["outputs"]["report"])
    branch = "aipair/upgrade-web-1.1.0"
    digest = manifest_digest(images, "aipair/web", "1.1.0")
    pinned = git("show", f"{branch}:catalog.yaml", cwd=bare)
    assert f"web:1.1.0@{digest}" in pinned
    [record] = [json.loads(line) for line in git("show", f"{branch}:upgrade-ledger.jsonl", cwd=bare).splitlines()]
    assert record["services"] == [{"name": "web", "tag": "1.1.0", "digest": digest}]
    assert record["verdict"] == "passed" and record["catalog"] == ledger.context_hash(pinned, ["web"])
    assert record["report"] == "sha256:" + hashlib.sha256(report.encode()).hexdigest()
    changed = git("diff", "--name-only", f"main..{branch}", cwd=bare).split()
    assert "upgrade-ledger.jsonl" in changed and "catalog.yaml" in changed
