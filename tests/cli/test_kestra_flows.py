"""Kestra flows: `aipair flows render`, and `aipair flows ...` against ContractKestra (no engine).

ContractKestra (tests/helpers/kestra_contract.py) is a TEST DOUBLE of the Kestra server built from its
documented REST API, because a real server cannot be obtained here: `io.kestra:kestra` is not on
Maven Central and Kestra does not publish its webserver module (see that file and issue 6). Every
test that talks to it says `contract` in its name. The flows' commands run for real; the validation
flow, which needs the Docker engine and the OCI registry, is in tests/engine/test_kestra_flows.py.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from aipair.cli import app

from ..helpers.commands import invoke as _invoke
from ..helpers.kestra import PASSWORD, USER
from ..helpers.kestra import kestra_env as _env
from ..helpers.kestra_contract import ContractKestra
from ..helpers.paths import DEFAULT_CATALOG

runner = CliRunner()


def test_flows_render_check_and_a_catalog_without_kestra(tmp_path: Path) -> None:
    result = runner.invoke(app, ["flows", "render", "--check", "--catalog", str(DEFAULT_CATALOG)])
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    written = runner.invoke(
        app, ["flows", "render", "--catalog", str(DEFAULT_CATALOG), "--out", str(out), "--runner", "process"]
    )
    assert written.exit_code == 0, written.output
    assert sorted(p.name for p in (out / "kestra-flows").iterdir()) == ["validate-candidate.yml", "watch-versions.yml"]
    assert "io.kestra.plugin.core.runner.Process" in (out / "kestra-flows" / "validate-candidate.yml").read_text()
    stale = runner.invoke(app, ["flows", "render", "--check", "--catalog", str(DEFAULT_CATALOG), "--out", str(out)])
    assert stale.exit_code == 1 and "aipair flows render" in stale.output

    plain = tmp_path / "plain.yaml"
    plain.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "project": {"name": "p", "domain": "p.example.com", "tls": {"acme_email": "o@p.example.com"}},
                "services": {
                    "web": {
                        "layer": "application",
                        "image": "nginx:1.27.0",
                        "health": {"type": "tcp", "port": 80},
                        "ports": [{"port": 80}],
                    }
                },
            }
        )
    )
    missing = runner.invoke(app, ["flows", "render", "--catalog", str(plain)])
    assert missing.exit_code == 2 and "project.kestra is not set" in missing.stderr


@pytest.mark.parametrize(
    "kestra, field, message",
    [
        ({"repository": "/r.git", "propose": "webhook"}, "project.kestra", "needs notify_secret"),
        ({"repository": "/r.git", "schedule": "every day"}, "project.kestra.schedule", "cron"),
        ({"repository": "/r.git; rm -rf /"}, "project.kestra.repository", ""),
        ({"repository": "/r.git", "runner": "kubernetes"}, "project.kestra.runner", ""),
    ],
)
def test_bad_kestra_settings_name_file_line_and_field(tmp_path: Path, kestra: dict, field: str, message: str) -> None:
    path = tmp_path / "catalog.yaml"
    data = yaml.safe_load(DEFAULT_CATALOG.read_text())
    data["project"]["kestra"] = kestra
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    result = runner.invoke(app, ["flows", "render", "--catalog", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert f"{path}:" in result.stderr and field in result.stderr and message in result.stderr
    assert not (tmp_path / "o").exists()


# --- against ContractKestra --------------------------------------------------------------------------


@pytest.fixture()
def kestra() -> Iterator[ContractKestra]:
    with ContractKestra(username=USER, password=PASSWORD) as server:
        yield server


def test_contract_register_is_idempotent_and_prune_deletes_only_what_it_listed(kestra: ContractKestra) -> None:
    env = _env(kestra)
    args = ["--catalog", str(DEFAULT_CATALOG), "--json"]
    first = _invoke(["flows", "register", *args], env)
    assert first.exit_code == 0, first.output
    assert [(f["flow"], f["action"], f["revision_after"]) for f in json.loads(first.stdout)["flows"]] == [
        ("validate-candidate", "created", 1),
        ("watch-versions", "created", 1),
    ]
    bulk = [path for method, path in kestra.requests if method == "POST" and "/flows/aipair.platform" in path]
    assert bulk and all("delete=false" in path for path in bulk)

    again = _invoke(["flows", "register", *args], env)
    assert [(f["action"], f["revision_after"]) for f in json.loads(again.stdout)["flows"]] == [
        ("unchanged", 1),
        ("unchanged", 1),
    ]

    # A flow nobody renders any more, and one in another namespace.
    for source in (
        "id: old-check\nnamespace: aipair.platform\ntasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: hi",
        "id: keep-me\nnamespace: other.team\ntasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: hi",
    ):
        kestra.save(source)
    kept = _invoke(["flows", "register", *args], env)
    assert {f["flow"]: f["action"] for f in json.loads(kept.stdout)["flows"]}["old-check"] == "kept"
    assert kestra.latest("aipair.platform", "old-check") is not None

    plan = _invoke(["flows", "register", "--prune", "--dry-run", *args], env)
    assert plan.exit_code == 0
    assert {f["flow"]: f["action"] for f in json.loads(plan.stdout)["flows"]} == {
        "validate-candidate": "unchanged",
        "watch-versions": "unchanged",
        "old-check": "delete",
    }
    assert kestra.latest("aipair.platform", "old-check") is not None

    refused = _invoke(["flows", "register", "--prune", "--catalog", str(DEFAULT_CATALOG)], env, input="n\n")
    assert refused.exit_code == 1 and "old-check" in refused.output
    assert kestra.latest("aipair.platform", "old-check") is not None

    pruned = _invoke(["flows", "register", "--prune", "--yes", *args], env)
    assert pruned.exit_code == 0, pruned.output
    assert {f["flow"]: f["action"] for f in json.loads(pruned.stdout)["flows"]} == {
        "validate-candidate": "unchanged",
        "watch-versions": "unchanged",
        "old-check": "deleted",
    }
    assert kestra.latest("aipair.platform", "old-check") is None
    assert kestra.latest("other.team", "keep-me") is not None
    assert kestra.latest("aipair.platform", "validate-candidate")["revision"] == 1

    status = _invoke(["flows", "status", *args], env)
    assert status.exit_code == 0 and all(f["in_sync"] for f in json.loads(status.stdout)["flows"])


def test_contract_server_rejects_a_broken_flow_and_aipair_shows_its_message(
    kestra: ContractKestra, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "id: broken\nnamespace: aipair.platform\ntasks:\n  - id: say\n"
        "    type: io.kestra.plugin.core.log.Logg\n    message: hi\n  - id: run\n"
        "    type: io.kestra.plugin.scripts.shell.Commands\n    command: [echo]\n"
    )
    result = _invoke(["flows", "validate", str(broken)], _env(kestra))
    assert result.exit_code == 1
    # A flow Kestra cannot parse has no id in the answer (the real engine leaves out flow and namespace):
    # it is named by its file. Kestra's one constraints string, verbatim; the parser stops at the first
    # unknown type.
    assert "broken.yml" in result.output
    assert "Validation error: Invalid type: io.kestra.plugin.core.log.Logg" in result.output
    typo = tmp_path / "typo.yml"
    typo.write_text(broken.read_text().replace("log.Logg", "log.Log"))
    as_json = _invoke(["flows", "validate", str(typo), "--json"], _env(kestra))
    assert as_json.exit_code == 1
    [verdict] = json.loads(as_json.stdout)["flows"]
    assert verdict["constraints"].startswith('Validation error: Unrecognized field "command"')
    assert verdict["flow"] is None and verdict["name"].endswith("typo.yml") and verdict["outdated"] is False


def test_contract_register_stops_when_the_server_lacks_a_plugin() -> None:
    with ContractKestra(
        username=USER, password=PASSWORD, missing_plugins=frozenset({"io.kestra.plugin.scripts.shell.Commands"})
    ) as server:
        result = _invoke(["flows", "register", "--catalog", str(DEFAULT_CATALOG)], _env(server))
        assert result.exit_code == 1
        assert "nothing was registered" in result.stderr
        assert "Invalid type: io.kestra.plugin.scripts.shell.Commands" in result.stderr
        assert server.flows == {}


def test_contract_wrong_credentials_server_down_unknown_flow_and_bad_input(kestra: ContractKestra) -> None:
    wrong = _invoke(["flows", "status"], _env(kestra, KESTRA_PASSWORD="nope"))
    assert wrong.exit_code == 3 and "refused the credentials (401)" in wrong.stderr

    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    down = _invoke(["flows", "status", "--server", closed], _env(kestra, KESTRA_URL=closed))
    assert down.exit_code == 3 and "cannot reach Kestra" in down.stderr and "is the server running?" in down.stderr

    unknown = _invoke(["flows", "run", "validate-candidat", "-i", "service=web"], _env(kestra))
    assert unknown.exit_code == 2 and "no flow aipair.platform.validate-candidat" in unknown.stderr
    assert "aipair flows register" in unknown.stderr

    malformed = _invoke(["flows", "run", "validate-candidate", "-i", "service"], _env(kestra))
    assert malformed.exit_code == 2 and "NAME=VALUE" in malformed.stderr

    assert _invoke(["flows", "register", "--catalog", str(DEFAULT_CATALOG)], _env(kestra)).exit_code == 0
    hostile = _invoke(
        ["flows", "run", "validate-candidate", "-i", "service=web; rm -rf /", "-i", "version=1"], _env(kestra)
    )
    assert hostile.exit_code == 1 and "must match the pattern" in hostile.stderr


def test_contract_client_finds_the_tenant_path_from_the_server_version() -> None:
    with ContractKestra(username=USER, password=PASSWORD, version="0.22.6") as legacy:
        result = _invoke(["flows", "register", "--catalog", str(DEFAULT_CATALOG)], _env(legacy))
        assert result.exit_code == 0, result.output
        paths = [path for _, path in legacy.requests if path != "/api/v1/configs"]
        assert paths and all(p.startswith("/api/v1/flows") for p in paths)
    with ContractKestra(username=USER, password=PASSWORD) as current:
        _invoke(["flows", "register", "--catalog", str(DEFAULT_CATALOG)], _env(current))
        assert all(p.startswith("/api/v1/main/") for _, p in current.requests if p != "/api/v1/configs")


def test_contract_run_shows_task_states_and_exits_with_the_final_state(kestra: ContractKestra) -> None:
    kestra.save(
        "id: hello\nnamespace: aipair.platform\ninputs:\n  - id: who\n    type: STRING\ntasks:\n"
        "  - id: greet\n    type: io.kestra.plugin.core.log.Log\n    message: 'hello {{ inputs.who }}'\n"
        "outputs:\n  - id: greeting\n    type: STRING\n    value: 'hi {{ inputs.who }}'\n"
    )
    kestra.save(
        "id: doomed\nnamespace: aipair.platform\ntasks:\n  - id: stop\n"
        "    type: io.kestra.plugin.core.execution.Fail\n    errorMessage: out of coffee\n"
    )
    ok = _invoke(["flows", "run", "hello", "-i", "who=ops"], _env(kestra))
    assert ok.exit_code == 0, ok.output
    assert "greet" in ok.stderr and "SUCCESS" in ok.stderr  # the live table
    assert "output greeting: hi ops" in ok.stdout and "ended SUCCESS" in ok.stdout
    failed = _invoke(["flows", "run", "aipair.platform.doomed"], _env(kestra))
    assert failed.exit_code == 1 and "ended FAILED" in failed.stdout and "out of coffee" in failed.stderr


def test_contract_validate_upstream_flows_shows_deprecations_and_missing_plugins(kestra: ContractKestra) -> None:
    corpus = Path(__file__).parent / "fixtures" / "kestra"
    old_names = corpus / "kestra-io__examples__blueprints_128_subflowForEachValue.yml"
    needs_aws = corpus / "kestra-io__blueprints__api-to-s3.yaml"
    result = _invoke(["flows", "validate", str(old_names), "--json"], _env(kestra))
    assert result.exit_code == 0, result.output  # pre-0.17 task names still load, with a warning
    flow = json.loads(result.stdout)["flows"][0]
    # Kestra 1.0: the aliases are relocations (infos); EachParallel is @Deprecated (a deprecation path).
    assert flow["constraints"] is None and flow["deprecations"] == ["tasks[0]"]
    assert flow["infos"] == [
        "io.kestra.core.tasks.flows.EachParallel is replaced by io.kestra.plugin.core.flow.EachParallel",
        "io.kestra.core.tasks.flows.Flow is replaced by io.kestra.plugin.core.flow.Subflow",
    ]
    both = _invoke(["flows", "validate", str(old_names), str(needs_aws)], _env(kestra))
    assert both.exit_code == 1
    assert "deprecated: tasks[0]" in both.stdout
    assert "Validation error: Invalid type: io.kestra.plugin.aws.s3.Upload" in both.stdout


def test_contract_api_token_and_retry_while_the_server_is_still_starting(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started: list[ContractKestra] = []

    def start_late() -> None:  # nothing listens for the client's first attempts
        import time

        time.sleep(1.0)
        started.append(ContractKestra(username=USER, password=PASSWORD, token="t0ken", port=port).__enter__())

    late = threading.Thread(target=start_late)
    late.start()
    try:
        env = {"KESTRA_URL": f"http://127.0.0.1:{port}", "KESTRA_API_TOKEN": "t0ken"}
        result = _invoke(["flows", "register", "--catalog", str(DEFAULT_CATALOG), "--json"], env)
        late.join()
        assert result.exit_code == 0, result.output
        assert [f["action"] for f in json.loads(result.stdout)["flows"]] == ["created", "created"]
        wrong = _invoke(["flows", "status"], {**env, "KESTRA_API_TOKEN": "stale"})
        assert wrong.exit_code == 3 and "KESTRA_API_TOKEN" in wrong.stderr
    finally:
        late.join()
        for server in started:
            server.__exit__()


# --- upgrade validate of Kestra itself: the candidate must load the flows rendered for its version ----


def _trial(tag: str, username: str | None = USER) -> Any:
    """The throw-away catalog of a Kestra candidate at ``tag``, its API user set as the catalog would."""
    from aipair.catalog import load_catalog
    from aipair.ops.upgrade.validate import throwaway_catalog

    trial = throwaway_catalog(load_catalog(DEFAULT_CATALOG), "kestra", tag)
    kestra = trial.project.kestra
    server = kestra.server.model_copy(update={"username": username, "password_secret": "KESTRA_ADMIN_PASSWORD"})
    project = trial.project.model_copy(update={"kestra": kestra.model_copy(update={"server": server})})
    return trial.model_copy(update={"project": project})


@pytest.mark.parametrize("tag", ["v1.0.20", "v2.0.0"])
def test_contract_a_kestra_candidate_loads_the_flows_rendered_for_its_version(tag: str) -> None:
    """The candidate Kestra is ContractKestra (a TEST DOUBLE: no real Kestra server can run here, see
    kestra_contract.py); tests/kestra-engine loads the same renderings in the real 1.0.20 and 2.0.0 engines."""
    from aipair.catalog import load_catalog
    from aipair.ops.upgrade.validate import candidate_loads_flows, is_kestra

    assert is_kestra(load_catalog(DEFAULT_CATALOG), "kestra") and not is_kestra(load_catalog(DEFAULT_CATALOG), "n8n")
    with ContractKestra(username=USER, password=PASSWORD, version=tag.lstrip("v")) as candidate:
        outcomes = candidate_loads_flows(_trial(tag), candidate.url, password=PASSWORD)
        assert [(o.name, o.ok) for o in outcomes] == [
            ("aipair.platform.validate-candidate", True),
            ("aipair.platform.watch-versions", True),
        ]
        assert [p for m, p in candidate.requests if m == "POST"] == ["/api/v1/main/flows/validate"]
        assert candidate.flows == {}  # validated, never saved


def test_contract_a_kestra_candidate_that_refuses_the_flows_is_rejected_with_its_message() -> None:
    """ContractKestra (TEST DOUBLE) as a Kestra 2.0.0 image without the scripts plugin, then as a 2.0.0
    given flows rendered for 1.x (what happened before the flows followed the version), then with the
    wrong password."""
    from aipair.ops.upgrade.validate import candidate_loads_flows

    with ContractKestra(
        username=USER,
        password=PASSWORD,
        version="2.0.0",
        missing_plugins=frozenset({"io.kestra.plugin.scripts.shell.Commands"}),
    ) as bare:
        outcomes = candidate_loads_flows(_trial("v2.0.0"), bare.url, password=PASSWORD)
        assert [o.ok for o in outcomes] == [False, False]
        assert outcomes[0].detail == "Validation error: Invalid type: io.kestra.plugin.scripts.shell.Commands"
    with ContractKestra(username=USER, password=PASSWORD, version="2.0.0") as candidate:
        outcomes = candidate_loads_flows(_trial("v1.0.20"), candidate.url, password=PASSWORD)
        assert [(o.name, o.ok) for o in outcomes] == [
            ("aipair.platform.validate-candidate", True),
            ("watch-versions.yml", False),  # not parsed by that Kestra: named by its file
        ]
        assert outcomes[1].detail == "Validation error: Invalid type: io.kestra.plugin.core.flow.ForEach"
        denied = candidate_loads_flows(_trial("v2.0.0", username=None), candidate.url, password="wrong")
        assert [o.ok for o in denied] == [False] and "refused the credentials (401)" in denied[0].detail
        assert "project.kestra.server.username" in denied[0].detail


# --- ContractKestra's execution semantics, as Kestra's sources define them -------------------------------

RETRYING = """id: flaky
namespace: aipair.platform
tasks:
  - id: work
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner: {type: io.kestra.plugin.core.runner.Process}
    retry: {type: exponential, interval: PT30S, maxInterval: PT5M, maxAttempts: 3}
    commands:
      - echo "to stderr" >&2
      - echo '::{"outputs":{"from_stderr":"yes"}}::' >&2
      - n=$(cat "$COUNTER" 2>/dev/null || echo 0); echo $((n + 1)) > "$COUNTER"
      - test "$n" -ge 2
  - id: decide
    type: io.kestra.plugin.core.flow.If
    condition: "{{ outputs.work.vars.from_stderr == 'yes' }}"
    then:
      - id: child
        type: io.kestra.plugin.core.flow.Subflow
        namespace: aipair.platform
        flowId: child
        wait: true
outputs:
  - id: child
    type: STRING
    value: "{{ outputs.child.outputs.greeting }} {{ outputs.child.state }} {{ outputs.decide.evaluationResult }}"
"""
CHILD = """id: child
namespace: aipair.platform
tasks:
  - id: hi
    type: io.kestra.plugin.core.log.Log
    message: hi
outputs:
  - id: greeting
    type: STRING
    value: hello
"""


@pytest.mark.parametrize(("version", "waits"), [("1.0.20", [0.0, 60.0]), ("2.0.0", [30.0, 60.0])])
def test_contract_retries_wait_as_kestra_does_stderr_is_error_and_outputs_carry_kestras_fields(
    version: str, waits: list[float], tmp_path: Path
) -> None:
    """ContractKestra (TEST DOUBLE): Exponential.nextRetryDate at each tag, PluginUtilsService.parseOut
    (stderr at ERROR, outputs lines on either stream), If/Subflow outputs (core@v1.0.20)."""
    counter = tmp_path / "counter"
    with ContractKestra(
        username=USER, password=PASSWORD, version=version, worker_env={"COUNTER": str(counter)}, time_scale=0.001
    ) as server:
        server.save(CHILD)
        server.save(RETRYING)
        result = _invoke(["flows", "run", "flaky", "--json"], _env(server))
        assert result.exit_code == 0, result.output
        assert server.retry_waits == [("work", waits[0]), ("work", waits[1])]
        run = json.loads(result.stdout)
        assert run["outputs"] == {"child": "hello SUCCESS True"}
        logs = server.logs[run["id"]]
        assert {(line["level"], line["message"]) for line in logs if line["taskId"] == "work"} == {
            ("ERROR", "to stderr"),
            ("ERROR", "Command failed with exit code 1"),  # TaskException, core@v1.0.20
        }
