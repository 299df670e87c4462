"""The Pulumi program under pulumi.runtime.set_mocks: the boundary that cannot run here is the Pulumi engine
plus the Kubernetes provider (the Go module proxy refuses the provider's module), so the program runs against
Pulumi's own mock monitor, and what it would send to the provider is recorded for the tests to check for real
(strict schemas in tests/cli/test_stack.py, a real API server in tests/engine/test_kube_pulumi.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pulumi

from aipair.catalog import load_catalog


class RecordingMocks(pulumi.runtime.Mocks):
    """Pulumi's documented test double for the engine: records what each resource would receive."""

    def __init__(self) -> None:
        self.created: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.created.append(args)
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        return {}


SECRET_SIG = "4dabf18193072939515e22adb298388d"  # Pulumi's wire marker for a secret value


def plain_numbers(value: Any) -> Any:
    """Inputs travel as protobuf Structs: every number is a double (3.0 → 3) and secrets are wrapped."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return plain_numbers(value["value"])
        return {k: plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_numbers(v) for v in value]
    return value


def run_program(
    catalog_path: Path, extra_config: dict[str, str] | None = None
) -> list[pulumi.runtime.MockResourceArgs]:
    from aipair.engines.pulumi_program import build

    catalog = load_catalog(catalog_path)
    # Pulumi's mocks use the thread's current event loop; an earlier asyncio.run() in this process leaves none.
    asyncio.set_event_loop(asyncio.new_event_loop())
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="aipair", stack="test", preview=False)
    config = {f"aipair:{name}": f"value-of-{name}" for name in catalog.secrets_for("scale")}
    pulumi.runtime.set_all_config({**config, **(extra_config or {})}, secret_keys=list(config))

    @pulumi.runtime.test
    def program() -> Any:
        resources = build(catalog, config=pulumi.Config("aipair"))
        return pulumi.Output.all(*[r.urn for r in resources.values()])

    program()
    return mocks.created


def kubernetes_inputs(created: list[pulumi.runtime.MockResourceArgs]) -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for args in created:
        if args.typ.startswith("kubernetes:") and "helm" not in args.typ and args.typ != "pulumi:providers:kubernetes":
            inputs = plain_numbers(dict(args.inputs))
            out[(inputs["kind"], inputs["metadata"]["name"])] = inputs
    return out
