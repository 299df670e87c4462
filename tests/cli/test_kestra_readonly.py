"""Flows as code: the rendered flows carry `system.readOnly` (Kestra's UI then offers no editor), and
`aipair flows status` reports, per flow, an edit made on the server anyway.

Against ContractKestra, a TEST DOUBLE of Kestra's REST API (tests/helpers/kestra_contract.py says why
no real server can run here). The label's form is Kestra's: `Label.READ_ONLY = "system.readOnly"`
(core@v1.0.20 and v2.0.0 io/kestra/core/models/Label.java), the only system label FlowValidator accepts
in a flow's source; the API returns a flow's labels as a list of {key, value} (List<Label>).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import yaml

from ..helpers.commands import invoke
from ..helpers.kestra import PASSWORD, USER, kestra_env
from ..helpers.kestra_contract import ContractKestra
from ..helpers.paths import DEFAULT_CATALOG, ROOT

CATALOG = ["--catalog", str(DEFAULT_CATALOG)]


@pytest.fixture()
def kestra() -> Iterator[ContractKestra]:
    with ContractKestra(username=USER, password=PASSWORD) as server:
        yield server


def _edit_in_the_ui(server: ContractKestra, flow_id: str, change: dict[str, object]) -> None:
    """What Kestra's editor does on save: PUT the whole YAML source of the flow."""
    current = server.latest("aipair.platform", flow_id)
    assert current is not None
    document = yaml.safe_load(current["source"])
    document.update(change)
    response = httpx.put(
        f"{server.url}/api/v1/main/flows/aipair.platform/{flow_id}",
        content=yaml.safe_dump(document, sort_keys=False),
        headers={"Content-Type": "application/x-yaml"},
        auth=(USER, PASSWORD),
    )
    assert response.status_code == 200, response.text


def test_the_committed_flows_carry_the_read_only_label_as_kestra_spells_it() -> None:
    for path in sorted((ROOT / "kestra-flows").glob("*.yml")):
        assert yaml.safe_load(path.read_text())["labels"]["system.readOnly"] == "true", path


def test_contract_status_reports_each_edited_flow_with_its_diff_and_register_restores_it(
    kestra: ContractKestra,
) -> None:
    env = kestra_env(kestra)
    assert invoke(["flows", "register", *CATALOG], env).exit_code == 0
    clean = invoke(["flows", "status", *CATALOG, "--json"], env)
    assert clean.exit_code == 0, clean.output
    rows = {row["flow"]: row for row in json.loads(clean.stdout)["flows"]}
    assert {flow: (row["state"], row["read_only"], row["diff"]) for flow, row in rows.items()} == {
        "validate-candidate": ("in sync", True, []),
        "watch-versions": ("in sync", True, []),
    }

    # Someone edits the watch flow on the server anyway: another schedule, and the label removed.
    watch = yaml.safe_load(kestra.latest("aipair.platform", "watch-versions")["source"])
    trigger = {**watch["triggers"][0], "cron": "*/5 * * * *"}
    _edit_in_the_ui(kestra, "watch-versions", {"triggers": [trigger], "labels": {"managed-by": "aipair"}})

    drift = invoke(["flows", "status", *CATALOG, "--json"], env)
    assert drift.exit_code == 1
    report = json.loads(drift.stdout)
    assert report["ok"] is False
    rows = {row["flow"]: row for row in report["flows"]}
    assert rows["validate-candidate"]["state"] == "in sync"
    edited = rows["watch-versions"]
    assert edited["state"] == "drift" and edited["in_sync"] is False and edited["read_only"] is False
    assert edited["revision"] == 2
    assert any(line.startswith("-") and "cron: 0 5 * * 1-5" in line for line in edited["diff"])
    assert any(line.startswith("+") and "cron: '*/5 * * * *'" in line for line in edited["diff"])

    human = invoke(["flows", "status", *CATALOG], env)
    assert human.exit_code == 1
    assert "watch-versions" in human.stdout and "edited on the server" in human.stdout
    assert "cron: '*/5 * * * *'" in human.stdout and "aipair flows register" in human.stderr

    restored = invoke(["flows", "register", *CATALOG, "--json"], env)
    assert {f["flow"]: f["action"] for f in json.loads(restored.stdout)["flows"]}["watch-versions"] == "updated"
    again = invoke(["flows", "status", *CATALOG, "--json"], env)
    assert again.exit_code == 0 and all(row["state"] == "in sync" for row in json.loads(again.stdout)["flows"])


def test_contract_status_names_a_missing_flow_and_a_flow_without_the_label(kestra: ContractKestra) -> None:
    env = kestra_env(kestra)
    assert invoke(["flows", "register", *CATALOG], env).exit_code == 0
    deleted = httpx.delete(f"{kestra.url}/api/v1/main/flows/aipair.platform/validate-candidate", auth=(USER, PASSWORD))
    assert deleted.status_code == 204
    result = invoke(["flows", "status", *CATALOG, "--json"], env)
    assert result.exit_code == 1
    rows = {row["flow"]: row for row in json.loads(result.stdout)["flows"]}
    assert rows["validate-candidate"]["state"] == "missing" and rows["validate-candidate"]["read_only"] is None
    assert rows["watch-versions"]["state"] == "in sync"


def test_contract_a_hostile_server_source_reaches_the_terminal_escaped_and_bounded(kestra: ContractKestra) -> None:
    env = kestra_env(kestra)
    assert invoke(["flows", "register", *CATALOG], env).exit_code == 0
    noise = {f"k{i}": f"\x1b[2J\x1b]0;owned\x07 line {i}" for i in range(500)}
    _edit_in_the_ui(kestra, "validate-candidate", {"variables": noise})
    result = invoke(["flows", "status", *CATALOG], env)
    assert result.exit_code == 1
    assert "\x1b[2J" not in result.stdout and "\x07" not in result.stdout
    assert result.stdout.count("line ") <= 60  # the diff is cut, and says so
    assert "more lines" in result.stdout


def test_contract_kestra_refuses_any_other_system_label(kestra: ContractKestra, tmp_path) -> None:  # type: ignore[no-untyped-def]
    flow = tmp_path / "flow.yml"
    flow.write_text(
        "id: f\nnamespace: aipair.platform\nlabels:\n  system.readOnly: 'true'\n  system.correlationId: x\n"
        "tasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    )
    result = invoke(["flows", "validate", str(flow), "--json"], kestra_env(kestra))
    assert result.exit_code == 1
    [verdict] = json.loads(result.stdout)["flows"]
    assert (
        "System labels can only be set by Kestra itself, offending label: system.correlationId=x"
        in (verdict["constraints"])
    )
