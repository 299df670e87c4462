"""The rendered Kestra flows on Kestra's own engine (issue 13), and the imitation checked against it.

tests/kestra-engine is a Maven module that runs Kestra 1.0.20 in-process (io.kestra:core, script, tests,
runner-memory, repository-memory, storage-local from Maven Central; profile kestra-2: the same at 2.0.0): Kestra's parser and FlowService.validate
(what POST /flows/validate answers), then the real executor, worker and scheduler on the flows that
`aipair flows render --runner process` writes here. The commands inside the flows are the real aipair CLI,
git, the Docker engine and an OCI registry holding the upgrade tests' images. scripts/kestra-engine.sh
runs it with a Java 21+ that scripts/kestra-java.sh finds or obtains.

The one TEST DOUBLE is the shell Commands task type (`io.kestra.plugin.scripts.shell.Commands`), which
Maven Central does not serve: a STAND-IN built on io.kestra:script's own classes (tests/kestra-engine/
src/test/java/io/kestra/plugin/scripts/shell/Commands.java). Every test whose result depends on it says
STAND_IN in its name.

Both Maven runs (1.0.20 and 2.0.0) start in the background before the first engine test and overlap with
the others (tests/helpers/kestra_engine.py, the `kestra_engine` fixture of tests/engine/conftest.py); this
module runs last and waits for them. A run that failed, timed out or did not start fails these tests.

The engine writes what it showed to JSON files (validation answers, executions with attempts, task outputs
and log levels); the `imitation_*` tests compare ContractKestra (tests/helpers/kestra_contract.py, the
TEST DOUBLE of the REST server) with them in the same run, so that the two cannot drift apart again.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from aipair.render.kestra import FLOW_ORDER

from ..helpers.kestra import PASSWORD, USER
from ..helpers.kestra_contract import ContractKestra
from ..helpers.kestra_engine import PROBES, EngineRun, KestraRuns
from ..helpers.upgrade import git
from ..helpers.webhook import Webhook

EXPECTED_TESTS = {
    "everyRenderedFlowLoadsWithKestrasStrictParser",
    "renderedFlowsValidateWithNoConstraintWarningOrDeprecation",
    "STAND_IN_commands_good_candidate_succeeds_with_report_and_pushed_proposal_branch",
    "STAND_IN_commands_bad_candidate_fails_runs_the_errors_branch_and_calls_the_webhook",
    "STAND_IN_commands_infrastructure_failure_is_retried_with_kestras_delays_then_fails",
    "STAND_IN_commands_scheduler_starts_watch_which_fans_out_one_subflow_per_candidate",
}


def _collect(kestra_engine: KestraRuns, request: pytest.FixtureRequest, name: str) -> EngineRun:
    """The run of profile `name`, waited for; started here when the session did not start it early (xdist)."""
    if not kestra_engine.started:
        kestra_engine.start(request.getfixturevalue("images"), request.getfixturevalue("docker_host"))
    return kestra_engine.result(name)


@pytest.fixture(scope="module")
def engine(kestra_engine: KestraRuns, request: pytest.FixtureRequest) -> EngineRun:
    """scripts/kestra-engine.sh run once on the flows rendered here (Kestra 1.0.20)."""
    return _collect(kestra_engine, request, "kestra-1")


@pytest.fixture(scope="module")
def engine_2(kestra_engine: KestraRuns, request: pytest.FixtureRequest) -> EngineRun:
    """The same on Kestra 2.0.0 (profile kestra-2: Kestra2ValidationTest and aipair/kestra/v2), the flows
    rendered for 2.0.0 (Loop, not ForEach)."""
    return _collect(kestra_engine, request, "kestra-2")


# --- the engine module itself -----------------------------------------------------------------------


def test_STAND_IN_kestra_engine_validates_and_runs_the_rendered_flows(engine: EngineRun) -> None:
    """Every JUnit test of tests/kestra-engine ran and passed (see their names in EXPECTED_TESTS)."""
    cases = engine.testcases()
    assert engine.returncode == 0, engine.explain()
    assert set(cases) == EXPECTED_TESTS, engine.explain()
    assert set(cases.values()) == {"passed"}, cases


def test_STAND_IN_kestra_engine_side_effects_webhook_and_branches(engine: EngineRun) -> None:
    """What the flows did outside Kestra: the webhook calls (bad candidate, retried infrastructure failure,
    the watch's failing candidate) and the proposal branches pushed to the bare repository."""
    assert engine.returncode == 0, engine.explain()
    calls = sorted((c["service"], c["version"], c["result"]) for c in engine.webhook)
    assert calls == [
        ("web", "1.1.0", "failed validation"),
        ("web", "1.2.0", "failed validation"),
        ("web", "1.2.0", "failed validation"),
    ]
    assert {c["project"] for c in engine.webhook} == {"aipair.platform"}
    branches = git("branch", "--list", "--format=%(refname:short)", cwd=engine.bare).split()
    assert sorted(branches) == ["aipair/upgrade-cache-1.1.0", "aipair/upgrade-web-1.1.0", "main"]


def test_STAND_IN_kestra_engine_retry_semantics(engine: EngineRun) -> None:
    """The real exponential retry as rendered (interval PT30S, maxAttempts 3): Kestra's
    Exponential.nextRetryDate waits interval * 2 * (attempt - 1), so the first retry comes at once
    and the second about 60 s later; then the task and the execution fail."""
    retry = engine.json("retry")
    validate = next(t for t in retry["taskRuns"] if t["taskId"] == "validate")
    assert [a["state"] for a in validate["attempts"]] == ["FAILED", "FAILED", "FAILED"]
    first, second = retry["retryDelaysSeconds"]
    assert first < 5
    assert 55 <= second <= 75
    assert retry["state"] == "FAILED"


def test_STAND_IN_kestra_engine_schedule_started_by_the_scheduler(engine: EngineRun) -> None:
    watch = engine.json("watch")
    assert watch["trigger"]["type"] == "io.kestra.plugin.core.trigger.Schedule"
    assert watch["trigger"]["id"] == "schedule"
    assert [(c["inputs"]["service"], c["inputs"]["version"], c["state"]) for c in watch["children"]] == [
        ("cache", "1.1.0", "SUCCESS"),
        ("web", "1.2.0", "FAILED"),
    ]


# --- the imitation (ContractKestra) against what the engine showed ---------------------------------


def _contract_validate(body: str) -> list[dict[str, Any]]:
    with ContractKestra(username=USER, password=PASSWORD) as server:
        response = httpx.post(
            f"{server.url}/api/v1/main/flows/validate",
            content=body,
            headers={"Content-Type": "application/x-yaml"},
            auth=(USER, PASSWORD),
            timeout=10,
        )
        assert response.status_code == 200, response.text
        answer: list[dict[str, Any]] = response.json()
        return answer


def test_imitation_validation_answer_for_the_rendered_flows_has_the_engines_keys_and_verdict(engine: EngineRun) -> None:
    """Per flow, the same entry: index, flow, namespace, and nothing to complain about. The engine's
    empty lists and `outdated: false` are part of its answer (Jackson, NON_NULL: `constraints` is absent
    when there is none)."""
    real = engine.json("validation")
    for body in ("rendered", "committed"):
        imitation = _contract_validate((engine.bodies / f"{body}.yaml").read_text())
        assert [(e["index"], e["flow"], e["namespace"]) for e in imitation] == [
            (e["index"], e["flow"], e["namespace"]) for e in real[body]
        ]
        assert all(not e.get("constraints") and not e.get("errors") for e in imitation)
        assert all(not e.get("deprecationPaths") and not e.get("warnings") for e in imitation)


def test_imitation_validation_answer_keys_equal_the_engines(engine: EngineRun) -> None:
    real = engine.json("validation")
    for body in ("rendered", *PROBES):
        imitation = _contract_validate((engine.bodies / f"{body}.yaml").read_text())
        assert [sorted(e) for e in imitation] == [sorted(e) for e in real[body]], body


def test_imitation_validation_verdicts_on_probes_equal_the_engines(engine: EngineRun) -> None:
    """For each probe: does the flow have constraints, and which deprecation paths."""
    real = engine.json("validation")
    for name in PROBES:
        imitation = _contract_validate((engine.bodies / f"{name}.yaml").read_text())
        assert [bool(e.get("constraints")) for e in imitation] == [bool(e.get("constraints")) for e in real[name]], name
        assert [e.get("deprecationPaths") or [] for e in imitation] == [
            e.get("deprecationPaths") or [] for e in real[name]
        ], name


def test_engine_validation_probes_recorded(engine: EngineRun) -> None:
    """What the engine answers to invalid flows (the shape the client must parse): one constraints string."""
    real = engine.json("validation")
    for name in ("probe-unknown-type", "probe-unknown-property", "probe-duplicate-id", "probe-no-tasks"):
        [entry] = real[name]
        assert isinstance(entry["constraints"], str) and entry["constraints"], (name, entry)
        assert "errors" not in entry


def _task(execution: dict[str, Any], task_id: str) -> dict[str, Any]:
    return next(t for t in execution["taskRuns"] if t["taskId"] == task_id)


def test_engine_task_outputs_recorded(engine: EngineRun) -> None:
    """The output fields Kestra gives the tasks the flows use, as the engine shows them."""
    watch = engine.json("watch")
    subflow = [t for t in watch["taskRuns"] if t["taskId"] == "validate"]
    assert len(subflow) == 2
    assert set(subflow[0]["outputs"]) == {"executionId", "state", "outputs"}, subflow[0]["outputs"]
    assert subflow[0]["outputs"]["outputs"]["verdict"] in ("passed", "failed")
    assert _task(engine.json("bad"), "decide")["outputs"] == {"evaluationResult": False}
    bad = engine.json("bad")
    assert set(_task(bad, "notify-failure")["outputs"]) == {"uri", "code", "headers"}  # no body: 204
    assert _task(bad, "notify-failure")["outputs"]["code"] == 204
    good = engine.json("good")
    assert {"exitCode", "vars", "outputFiles"} <= set(_task(good, "validate")["outputs"])


def _engine_output_keys(engine: EngineRun) -> dict[str, set[str]]:
    """Task type -> the output fields the engine gave it (Request: without a body, the webhook answers 204)."""
    watch, bad, good = engine.json("watch"), engine.json("bad"), engine.json("good")
    return {
        "Subflow": set(next(t for t in watch["taskRuns"] if t["taskId"] == "validate")["outputs"]),
        "If": set(_task(bad, "decide")["outputs"]),
        "Request": set(_task(bad, "notify-failure")["outputs"]),
        "Commands": set(_task(good, "validate")["outputs"]),
    }


def _imitation_output_keys() -> dict[str, set[str]]:
    """The same task types run by ContractKestra on a small flow (a Subflow to a Log flow, an If, a Request
    to a webhook answering 204, a Commands)."""
    webhook = Webhook()
    webhook.start()
    child = "id: c\nnamespace: aipair.probe\ntasks:\n- id: l\n  type: io.kestra.plugin.core.log.Log\n  message: hi\n"
    parent = (
        "id: p\nnamespace: aipair.probe\ntasks:\n"
        "- id: sub\n  type: io.kestra.plugin.core.flow.Subflow\n  namespace: aipair.probe\n  flowId: c\n  wait: true\n"
        "- id: decide\n  type: io.kestra.plugin.core.flow.If\n  condition: '{{ 1 == 2 }}'\n"
        "  then:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: then\n"
        "  else:\n  - id: e\n    type: io.kestra.plugin.core.log.Log\n    message: else\n"
        f"- id: notify\n  type: io.kestra.plugin.core.http.Request\n  uri: {webhook.url}\n  method: POST\n"
        "  contentType: application/json\n  body: '{}'\n"
        "- id: cmd\n  type: io.kestra.plugin.scripts.shell.Commands\n"
        "  taskRunner:\n    type: io.kestra.plugin.core.runner.Process\n  commands:\n  - echo hi\n"
    )
    try:
        with ContractKestra(username=USER, password=PASSWORD) as server:
            server.save(child)
            saved = server.save(parent)
            execution = server.start(saved, {})
            server.execute(execution, saved)
            runs = {r["taskId"]: set(r["outputs"]) for r in execution["taskRunList"]}
    finally:
        webhook.shutdown()
    return {"Subflow": runs["sub"], "If": runs["decide"], "Request": runs["notify"], "Commands": runs["cmd"]}


def test_imitation_commands_outputs_equal_the_engines(engine: EngineRun) -> None:
    assert _imitation_output_keys()["Commands"] == _engine_output_keys(engine)["Commands"]


def test_imitation_subflow_if_request_outputs_equal_the_engines(engine: EngineRun) -> None:
    real, imitation = _engine_output_keys(engine), _imitation_output_keys()
    assert {k: imitation[k] for k in ("Subflow", "If", "Request")} == {k: real[k] for k in ("Subflow", "If", "Request")}


def test_imitation_retry_delays_equal_the_engines(engine: EngineRun, tmp_path: Path) -> None:
    """The imitation's waits between attempts, measured, equal the engine's; measured at a tenth of the time
    (ContractKestra's time_scale multiplies every retry wait) and scaled back: the same comparison without
    sitting through the engine's 60 s."""
    real = engine.json("retry")["retryDelaysSeconds"]
    scale = 0.1
    flow = (
        "id: r\nnamespace: aipair.probe\ntasks:\n- id: t\n  type: io.kestra.plugin.scripts.shell.Commands\n"
        "  taskRunner:\n    type: io.kestra.plugin.core.runner.Process\n  commands:\n  - exit 3\n"
        "  retry:\n    type: exponential\n    interval: PT30S\n    maxInterval: PT5M\n    maxAttempts: 3\n"
    )
    with ContractKestra(username=USER, password=PASSWORD, time_scale=scale) as server:
        saved = server.save(flow)
        execution = server.start(saved, {})
        started = []
        original = server._run_kind

        def timed(*args: Any) -> bool:
            started.append(time.monotonic())
            return original(*args)

        server._run_kind = timed  # type: ignore[method-assign]
        server.execute(execution, saved)
    delays = [(b - a) / scale for a, b in itertools.pairwise(started)]
    assert len(delays) == len(real)
    assert all(abs(d - r) < 5 for d, r in zip(delays, real, strict=True)), (delays, real)


def test_imitation_stderr_log_level_equals_the_engines(engine: EngineRun) -> None:
    real = engine.json("retry")
    # git clone of the unreachable repository writes "fatal: ..." to stderr
    levels = {log["level"] for log in real["logs"] if log.get("taskId") == "validate" and "fatal:" in log["message"]}
    assert levels, real["logs"]
    flow = (
        "id: s\nnamespace: aipair.probe\ntasks:\n- id: t\n  type: io.kestra.plugin.scripts.shell.Commands\n"
        "  taskRunner:\n    type: io.kestra.plugin.core.runner.Process\n  commands:\n  - \"echo 'fatal: x' >&2\"\n"
    )
    with ContractKestra(username=USER, password=PASSWORD) as server:
        saved = server.save(flow)
        execution = server.start(saved, {})
        server.execute(execution, saved)
        imitation = {log["level"] for log in server.logs[execution["id"]] if "fatal:" in log["message"]}
    assert imitation == levels


# --- Kestra 2.0.0 -------------------------------------------------------------------------------------


EXPECTED_TESTS_2 = {
    "everyRenderedFlowLoadsWithKestrasStrictParser",
    "renderedFlowsValidateWithNoConstraintWarningOrDeprecation",
    "STAND_IN_commands_good_candidate_succeeds_with_report_and_pushed_proposal_branch",
    "STAND_IN_commands_bad_candidate_fails_runs_the_errors_branch_and_calls_the_webhook",
    "STAND_IN_commands_infrastructure_failure_is_retried_with_kestras_delays_then_fails",
    "STAND_IN_commands_scheduler_starts_watch_which_loops_one_subflow_per_candidate",
}


def test_kestra_2_loads_and_validates_the_flows_rendered_for_it(engine_2: EngineRun) -> None:
    """The flows rendered for Kestra 2.0.0 (project.kestra.version, and the repository's catalog with its
    Kestra image at v2.0.0) load and validate on Kestra 2.0.0, which removed
    io.kestra.plugin.core.flow.ForEach (the renderer writes Loop from 2.0)."""
    answers = engine_2.json("validation")
    for body in ("rendered", "catalog-image"):
        assert [(e["flow"], e.get("constraints")) for e in answers[body]] == [(f, None) for f in FLOW_ORDER], body
    assert "io.kestra.plugin.core.flow.Loop" in (engine_2.bodies / "rendered.yaml").read_text()
    assert "io.kestra.plugin.core.flow.ForEach" not in (engine_2.bodies / "catalog-image.yaml").read_text()


def test_STAND_IN_kestra_2_runs_the_rendered_flows(engine_2: EngineRun) -> None:
    """Every JUnit test of the kestra-2 profile ran and passed: validate-candidate (good: SUCCESS with the
    report and the proposal branch; bad: FAILED, errors branch, webhook) and the scheduled watch's Loop
    (one subflow per candidate, the failing one does not stop the other), on Kestra 2.0.0."""
    cases = engine_2.testcases()
    assert engine_2.returncode == 0, engine_2.explain()
    assert set(cases) == EXPECTED_TESTS_2, engine_2.explain()
    assert set(cases.values()) == {"passed"}, cases


def test_STAND_IN_kestra_2_retry_semantics_differ_from_1_0s(engine: EngineRun, engine_2: EngineRun) -> None:
    """The rendered exponential retry (interval PT30S, maxAttempts 3) on both: three failed attempts, then
    FAILED. The delays differ (measured): 1.0.20 waits interval * 2 * (attempt - 1), so 0 s then ~60 s;
    2.0.0's Exponential.nextRetryDate waits interval * delayFactor^(attempt - 1) (factor 2 by default),
    so ~30 s then ~60 s: an infrastructure failure takes ~90 s to fail on 2.0 instead of ~60 s."""
    expected = {"1.0.20": ((0, 5), (55, 75)), "2.0.0": ((25, 40), (55, 75))}
    for version, run in (("1.0.20", engine), ("2.0.0", engine_2)):
        retry = run.json("retry")
        validate = next(t for t in retry["taskRuns"] if t["taskId"] == "validate")
        assert [a["state"] for a in validate["attempts"]] == ["FAILED", "FAILED", "FAILED"], version
        delays = retry["retryDelaysSeconds"]
        assert len(delays) == 2, (version, delays)
        assert all(low <= d <= high for d, (low, high) in zip(delays, expected[version], strict=True)), (
            version,
            delays,
        )
        assert retry["state"] == "FAILED", version


def test_STAND_IN_kestra_2_stderr_log_level_equals_1_0s(engine: EngineRun, engine_2: EngineRun) -> None:
    """stderr lines of a Commands task (git clone's "fatal: ...") are logged at the same level on both."""

    def levels(run: EngineRun) -> set[str]:
        logs = run.json("retry")["logs"]
        return {log["level"] for log in logs if log.get("taskId") == "validate" and "fatal:" in log["message"]}

    assert levels(engine_2) == levels(engine) != set()


def test_STAND_IN_kestra_2_outcomes_and_side_effects(engine_2: EngineRun) -> None:
    """What the 2.0 engine showed and what the flows did outside it, as on 1.0.20."""
    assert engine_2.returncode == 0, engine_2.explain()
    good, bad, watch = engine_2.json("good"), engine_2.json("bad"), engine_2.json("watch")
    assert good["state"] == "SUCCESS" and good["outputs"]["verdict"] == "passed"
    assert bad["state"] == "FAILED"
    assert {t["taskId"]: t["state"] for t in bad["taskRuns"]}["notify-failure"] == "SUCCESS"
    assert watch["trigger"]["type"] == "io.kestra.plugin.core.trigger.Schedule"
    assert watch["state"] == "SUCCESS"
    assert [(c["inputs"]["service"], c["inputs"]["version"], c["state"]) for c in watch["children"]] == [
        ("cache", "1.1.0", "SUCCESS"),
        ("web", "1.2.0", "FAILED"),
    ]
    calls = sorted((c["service"], c["version"], c["result"]) for c in engine_2.webhook)
    assert calls == [
        ("web", "1.1.0", "failed validation"),
        ("web", "1.2.0", "failed validation"),
        ("web", "1.2.0", "failed validation"),
    ]
    branches = git("branch", "--list", "--format=%(refname:short)", cwd=engine_2.bare).split()
    assert sorted(branches) == ["aipair/upgrade-cache-1.1.0", "aipair/upgrade-web-1.1.0", "main"]
