"""The `--json` documents are a CI contract: every command's keys, in order, pinned here.

Each case builds the typed result the command's use case returns and serialises it exactly as the
CLI does (aipair.cli.output.conclude → Result.to_json). The keys were read off the hand-written
`as_dict()` methods these results replaced, so a renamed or dropped key fails here first.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aipair.cli import app
from aipair.cli.output import Failure, Invalid
from aipair.engines.docker import ContainerStatus
from aipair.engines.files import Drift
from aipair.engines.kestra_answers import Execution, TaskRun
from aipair.engines.pulumi import StackResult
from aipair.errors import Problem
from aipair.ops.catalog import CatalogSummary, Edge, ServiceDetail, ServiceList, ServiceRow, StartOrder
from aipair.ops.cluster import AutoscalerRow, ClusterStatus, EventRow, MetricRow, PodProblem, WorkloadRow
from aipair.ops.deploy import DeployResult
from aipair.ops.flows import (
    FlowChange,
    FlowStatus,
    FlowVerdict,
    RegisterResult,
    RunResult,
    StatusResult,
    ValidationResult,
)
from aipair.ops.host import BootstrapResult, StepResult
from aipair.ops.operate import ProjectStatus
from aipair.ops.outcome import Outcome
from aipair.ops.render import CheckResult, EnvSummary, FileState, RenderResult
from aipair.ops.upgrade.apply import ApplyResult
from aipair.ops.upgrade.report import CheckReport, CheckRow
from aipair.ops.upgrade.validate import ValidationReport
from aipair.render.report import Note
from aipair.results import Result

from ..helpers.paths import DEFAULT_CATALOG

CONTAINER = ["service", "container", "name", "image", "state", "health", "exit_code", "ports", "ok"]
STACK = ["ok", "stack", "action", "changes", "outputs", "generated_secrets"]


def _container() -> ContainerStatus:
    return ContainerStatus(
        service="web",
        container="abc",
        name="demo-web-1",
        image="web:1",
        state="running",
        health="healthy",
        exit_code=0,
        ports=["0.0.0.0:80->80/tcp"],
        kind="job",
    )


CASES: dict[str, tuple[Result, list[str], dict[str, list[str]]]] = {
    "catalog validate": (
        CatalogSummary(catalog="catalog.yaml", services=1, secrets=0, phases={"mvp": 1, "scale": 1}),
        ["ok", "catalog", "services", "secrets", "phases", "root_equivalent"],
        {"phases": ["mvp", "scale"]},
    ),
    "catalog graph": (
        StartOrder(
            waves=[["a"], ["b"]],
            edges=[Edge(source="b", target="a", condition="healthy")],
            nodes=["a", "b"],
            roots=["a"],
        ),
        ["waves", "edges"],
        {"edges": ["from", "to", "condition"]},
    ),
    "render": (
        RenderResult(
            phase="mvp",
            files=[FileState(path="compose/x.yml", changed=True)],
            notes=[Note("mvp", "networks", None, "m")],
            root=Path("."),
            env=EnvSummary(path="compose/.env", generated=["A"], kept=1, unset_supplied=[]),
        ),
        ["ok", "phase", "files", "notes", "env"],
        {
            "files": ["path", "changed"],
            "notes": ["phase", "topic", "service", "message"],
            "env": ["path", "generated", "kept", "unset_supplied"],
        },
    ),
    "render --phase scale": (
        RenderResult(phase="scale", files=[], notes=[], root=Path(".")),
        ["ok", "phase", "files", "notes"],
        {},
    ),
    "render --check": (
        CheckResult(ok=False, phase="mvp", drift=[Drift(path="a", missing=False, diff="-x")], files=3),
        ["ok", "phase", "drift"],
        {"drift": ["path", "missing", "diff"]},
    ),
    "deploy": (
        DeployResult(
            ok=True,
            project="demo",
            profile="mock",
            checks=[Outcome.of("engine", True, "ok")],
            statuses=[_container()],
            seconds=1.234567,
        ),
        [
            "ok",
            "project",
            "profile",
            "checks",
            "services",
            "failed",
            "logs",
            "restored",
            "soak",
            "snapshot",
            "restored_data",
            "pruned",
            "seconds",
        ],
        {"checks": ["name", "ok", "detail"], "services": CONTAINER},
    ),
    "deploy --phase scale": (StackResult(stack="dev", action="up", generated=["A"]), STACK, {}),
    "status": (
        ProjectStatus(project="demo", ok=True, services=[_container()]),
        ["project", "ok", "services"],
        {"services": CONTAINER},
    ),
    "status --phase scale": (
        ClusterStatus(
            ok=False,
            server="https://127.0.0.1:6443",
            context="prod",
            namespace="aipair",
            workloads=[
                WorkloadRow(
                    kind="Deployment",
                    name="web",
                    present=True,
                    in_catalog=True,
                    desired=2,
                    updated=2,
                    ready=1,
                    available=1,
                    ok=False,
                    detail="1 of 2 ready",
                )
            ],
            pods_not_ready=[
                PodProblem(
                    pod="web-1",
                    workload="Deployment/web",
                    phase="Pending",
                    container="",
                    reason="Unschedulable",
                    message="0/1 nodes are available",
                    restarts=0,
                )
            ],
            autoscalers=[
                AutoscalerRow(
                    name="web",
                    target="Deployment/web",
                    min_replicas=2,
                    max_replicas=5,
                    current_replicas=2,
                    desired_replicas=2,
                    metrics=[MetricRow(name="cpu", current="-", target="80%")],
                    note="",
                )
            ],
            warnings=[
                EventRow(
                    object="Pod/web-1",
                    reason="FailedScheduling",
                    message="…",
                    count=3,
                    last_seen=None,
                    age_seconds=None,
                )
            ],
            warnings_total=1,
        ),
        [
            "ok",
            "server",
            "context",
            "namespace",
            "workloads",
            "pods_not_ready",
            "autoscalers",
            "warnings",
            "warnings_total",
            "stack",
        ],
        {
            "workloads": [
                "kind",
                "name",
                "present",
                "in_catalog",
                "desired",
                "updated",
                "ready",
                "available",
                "completions",
                "succeeded",
                "failed",
                "active",
                "ok",
                "detail",
            ],
            "pods_not_ready": ["pod", "workload", "phase", "container", "reason", "message", "restarts"],
            "autoscalers": [
                "name",
                "target",
                "min_replicas",
                "max_replicas",
                "current_replicas",
                "desired_replicas",
                "metrics",
                "note",
            ],
            "warnings": ["object", "reason", "message", "count", "last_seen", "age_seconds"],
        },
    ),
    "upgrade check": (
        CheckReport(ok=True, due=1, services=[CheckRow(service="web", image="r/web", current="1.0")]),
        ["ok", "due", "rejected", "services"],
        {"services": ["service", "image", "current", "candidate", "newest", "digest", "error", "assumptions"]},
    ),
    "upgrade validate": (
        ValidationReport(
            service="web",
            version="1.1",
            image="web:1.1",
            project="p",
            services=[_container()],
            smoke=[Outcome.of("get", True, "200")],
        ),
        [
            "service",
            "version",
            "image",
            "project",
            "group",
            "members",
            "failed",
            "ok",
            "stage",
            "services",
            "assumptions",
            "flows",
            "smoke",
            "logs",
            "data",
            "seconds",
            "torn_down",
        ],
        {"services": CONTAINER, "smoke": ["name", "ok", "detail"]},
    ),
    "upgrade apply": (
        ApplyResult(service="web", previous="web:1", image="web:2", catalog_diff="-1\n+2"),
        ["ok", "service", "previous", "image", "group", "members", "diff", "changed_files", "deployed", "rolled_back"],
        {},
    ),
    "host bootstrap": (
        BootstrapResult(dry_run=True, steps=[StepResult(name="engine", state="done")]),
        ["dry_run", "steps"],
        {"steps": ["step", "state", "detail"]},
    ),
    "flows validate": (
        ValidationResult(
            ok=True,
            flows=[
                FlowVerdict(
                    name="f.yml",
                    index=0,
                    flow="ns.f",
                    constraints=None,
                    outdated=False,
                    warnings=[],
                    deprecations=[],
                    infos=[],
                )
            ],
        ),
        ["ok", "flows"],
        {"flows": ["name", "index", "flow", "constraints", "outdated", "warnings", "deprecations", "infos"]},
    ),
    "flows register": (
        RegisterResult(
            namespace="ns",
            dry_run=False,
            flows=[FlowChange(flow="f", action="created", revision_before=None, revision_after=1)],
        ),
        ["ok", "namespace", "dry_run", "flows"],
        {"flows": ["flow", "action", "revision_before", "revision_after"]},
    ),
    "flows run": (
        RunResult(
            execution=Execution(
                id="e",
                namespace="ns",
                flow="f",
                state="SUCCESS",
                outputs={"a": 1},
                tasks=[TaskRun(task="t", state="SUCCESS")],
                started="now",
            ),
            problems=[],
        ),
        ["ok", "id", "namespace", "flow", "state", "outputs", "tasks"],
        {"tasks": ["task", "state", "value"]},
    ),
    "flows status": (
        StatusResult(
            ok=True,
            namespace="ns",
            server_version="1.0.0",
            flows=[
                FlowStatus(
                    flow="f",
                    revision=1,
                    in_sync=True,
                    state="in sync",
                    read_only=True,
                    diff=[],
                    last_state=None,
                    last_start=None,
                )
            ],
        ),
        ["ok", "namespace", "server_version", "flows"],
        {"flows": ["flow", "revision", "in_sync", "state", "read_only", "diff", "last_state", "last_start"]},
    ),
    "any command failing": (Failure(error="x"), ["ok", "error"], {}),
    "an invalid catalog": (
        Invalid(problems=[Problem("c.yaml", 3, "services.web", "bad")]),
        ["ok", "problems"],
        {"problems": ["file", "line", "field", "message"]},
    ),
}


@pytest.mark.parametrize("command", list(CASES))
def test_json_keys_of_every_command_are_pinned(command: str) -> None:
    result, keys, nested = CASES[command]
    document = json.loads(json.dumps(result.to_json()))  # exactly what reaches stdout
    assert list(document) == keys
    for key, inner in nested.items():
        value = document[key]
        items = value if isinstance(value, list) else [value]
        assert items, f"{command}: {key} must have an item to check"
        for item in items:
            assert list(item) == inner, f"{command}: {key}"


def test_values_keep_their_json_types() -> None:
    """Types CI scripts rely on: rounded seconds, a computed `ok`, `kept` as a count, `deployed` as null."""
    deploy = DeployResult(
        ok=False, project="p", profile="real", checks=[], statuses=[_container()], seconds=3.14159
    ).to_json()
    assert deploy["seconds"] == 3.14 and deploy["services"][0]["ok"] is False  # a job still running is not ok
    apply = ApplyResult(service="web", previous="a", image="b", catalog_diff="").to_json()
    assert apply["ok"] is True and apply["deployed"] is None
    render = CASES["render"][0].to_json()
    assert render["env"]["kept"] == 1


def test_list_show_and_stack_documents_keep_their_shape() -> None:
    """`catalog list` is a bare list; `catalog show` flattens the service beside its name; stacks start with ok."""
    row = ServiceRow(
        name="web",
        layer="application",
        kind="stateless",
        image="web:1",
        phases=["mvp"],
        ports=[80],
        public=[],
        depends_on=[],
    )
    listing = ServiceList(title="t", rows=[row]).to_json()
    assert isinstance(listing, list)
    assert list(listing[0]) == ["name", "layer", "kind", "image", "phases", "ports", "public", "depends_on"]
    detail = ServiceDetail(name="web", detail={"image": "web:1", "depends_on_all": [], "dependents": []}).to_json()
    assert list(detail) == ["name", "image", "depends_on_all", "dependents"]


def test_the_cli_prints_the_same_documents() -> None:
    """The real commands, end to end, on the default catalog: the keys above reach stdout unchanged."""
    runner = CliRunner()
    validate = json.loads(
        runner.invoke(app, ["catalog", "validate", "--catalog", str(DEFAULT_CATALOG), "--json"]).stdout
    )
    assert list(validate) == CASES["catalog validate"][1]
    graph = json.loads(runner.invoke(app, ["catalog", "graph", "--catalog", str(DEFAULT_CATALOG), "--json"]).stdout)
    assert list(graph) == CASES["catalog graph"][1] and list(graph["edges"][0]) == ["from", "to", "condition"]
    shown = json.loads(
        runner.invoke(app, ["catalog", "show", "qdrant", "--catalog", str(DEFAULT_CATALOG), "--json"]).stdout
    )
    assert list(shown)[0] == "name" and list(shown)[-2:] == ["depends_on_all", "dependents"]
    check = runner.invoke(app, ["render", "--check", "--catalog", str(DEFAULT_CATALOG), "--json"])
    assert check.exit_code == 0 and list(json.loads(check.stdout)) == CASES["render --check"][1]
    missing = runner.invoke(app, ["catalog", "show", "nope", "--catalog", str(DEFAULT_CATALOG), "--json"])
    assert missing.exit_code == 2 and list(json.loads(missing.stdout)) == ["ok", "error"]
