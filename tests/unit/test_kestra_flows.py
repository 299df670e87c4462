"""Kestra flows rendered as a pure function of the catalog (no server, no CLI runner).

`aipair flows ...` against ContractKestra is in tests/cli/test_kestra_flows.py; the validation flow
run for real (registry and Docker engine) in tests/engine/test_kestra_flows.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from aipair.catalog import load_catalog
from aipair.render.kestra import render_kestra_flows

from ..helpers.paths import DEFAULT_CATALOG

CURRENT_TYPES = ("io.kestra.plugin.core.", "io.kestra.plugin.scripts.")


def _types(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "type" and isinstance(value, str) and value.startswith("io.kestra"):
                yield value
            yield from _types(value)
    elif isinstance(node, list):
        for item in node:
            yield from _types(item)


# --- rendering (pure) ------------------------------------------------------------------------------


def test_flows_are_deterministic_use_current_task_types_and_take_inputs_through_env() -> None:
    catalog = load_catalog(DEFAULT_CATALOG)
    first, second = render_kestra_flows(catalog), render_kestra_flows(catalog)
    assert first == second and list(first) == ["validate-candidate", "watch-versions"]
    for flow in first.values():
        assert flow["namespace"] == "aipair.platform"
        types = set(_types(flow))
        assert types and all(t.startswith(CURRENT_TYPES) for t in types), types
    validate, watch = first["validate-candidate"], first["watch-versions"]
    assert watch["triggers"] == [
        {
            "id": "schedule",
            "type": "io.kestra.plugin.core.trigger.Schedule",
            "cron": "0 5 * * 1-5",
            "timezone": "Europe/Berlin",
        }
    ]
    # production runner: the aipair image, with the engine's socket for the throw-away stacks
    task = validate["tasks"][0]
    assert task["taskRunner"]["type"] == "io.kestra.plugin.scripts.runner.docker.Docker"
    assert task["containerImage"] == "ghcr.io/ai-pair/aipair:0.1.0"
    # no input is ever spliced into a shell command: they arrive as environment variables
    commands = json.dumps([t.get("commands") for t in validate["tasks"] + validate["tasks"][1]["then"]])
    assert "aipair upgrade validate" in commands and "aipair upgrade apply" in commands
    assert "inputs." not in commands and task["env"]["SERVICE"] == "{{ inputs.service }}"
    assert {i["id"]: i["validator"] for i in validate["inputs"]}["service"].startswith("^[a-z]")
    assert [t["id"] for t in validate["errors"]] == ["log-failure", "notify-failure"]
    assert validate["outputs"][0] == {
        "id": "report",
        "type": "FILE",
        "description": validate["outputs"][0]["description"],
        "value": "{{ outputs.validate.outputFiles['report.json'] }}",
    }

    local = render_kestra_flows(catalog, runner="process")["validate-candidate"]["tasks"][0]
    assert local["taskRunner"] == {"type": "io.kestra.plugin.core.runner.Process"} and "containerImage" not in local
