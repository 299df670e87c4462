"""The Kestra flows render for the Kestra version the catalog deploys (ForEach before 2.0, Loop from 2.0).

Kestra's sources behind each expectation (io.kestra:core sources at 1.0.20 and 2.0.0): 2.0 removed
plugin/core/flow/ForEach.java and added Loop.java, whose iterations see `item.value` (RunVariables) and
whose `transmitFailed` defaults to true (ending the loop at the first failed iteration,
LoopExecutionEventMessageHandler in executor@2.0.0). The real engine loads both renderings in
tests/kestra-engine; the retry waits here are those ContractKestra (a TEST DOUBLE) models from
Exponential.nextRetryDate at both versions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from aipair.catalog import load_catalog
from aipair.catalog.model import Catalog
from aipair.errors import CatalogError
from aipair.render.files import render_flows
from aipair.render.kestra import kestra_version, render_kestra_flows

from ..helpers.kestra_model import check_flow, retry_delay
from ..helpers.paths import DEFAULT_CATALOG


def _with_kestra_image(image: str | None, **settings: Any) -> Catalog:
    catalog = load_catalog(DEFAULT_CATALOG)
    services = dict(catalog.services)
    if image is None:
        del services["kestra"]
    else:
        services["kestra"] = services["kestra"].model_copy(update={"image": image})
    kestra = catalog.project.kestra
    assert kestra is not None
    project = catalog.project.model_copy(update={"kestra": kestra.model_copy(update=settings)})
    return catalog.model_copy(update={"services": services, "project": project})


def _paths(node: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf of a document by its path, to compare two renderings."""
    if isinstance(node, dict):
        return {k: v for key, value in node.items() for k, v in _paths(value, f"{prefix}.{key}").items()}
    if isinstance(node, list):
        return {k: v for i, value in enumerate(node) for k, v in _paths(value, f"{prefix}[{i}]").items()}
    return {prefix: node}


def test_the_version_comes_from_the_kestra_service_image_tag_or_the_setting() -> None:
    assert kestra_version(load_catalog(DEFAULT_CATALOG)) == (1, 0, 4)  # kestra/kestra:v1.0.4
    assert kestra_version(_with_kestra_image("kestra/kestra:v2.0.0")) == (2, 0, 0)
    assert kestra_version(_with_kestra_image("kestra/kestra:1.0.20-no-plugins")) == (1, 0, 20)
    assert kestra_version(_with_kestra_image(None)) == (1, 0)  # Kestra not deployed by this catalog
    assert kestra_version(_with_kestra_image(None, version="2.0.0")) == (2, 0, 0)
    assert kestra_version(_with_kestra_image("kestra/kestra:v1.0.20", version="v2.0")) == (2, 0)


def test_1x_renders_foreach_and_2x_loop_and_nothing_else_differs() -> None:
    old = render_kestra_flows(_with_kestra_image("kestra/kestra:v1.0.20"), runner="process")
    new = render_kestra_flows(_with_kestra_image("kestra/kestra:v2.0.0"), runner="process")
    assert old["validate-candidate"] == new["validate-candidate"]
    before, after = _paths(old["watch-versions"]), _paths(new["watch-versions"])
    changed = {path: (before.get(path), after.get(path)) for path in before.keys() | after.keys()}
    changed = {path: pair for path, pair in changed.items() if pair[0] != pair[1]}
    assert changed == {
        ".tasks[1].type": ("io.kestra.plugin.core.flow.ForEach", "io.kestra.plugin.core.flow.Loop"),
        ".tasks[1].transmitFailed": (None, False),
        ".tasks[1].tasks[0].inputs.service": (
            "{{ fromJson(taskrun.value).service }}",
            "{{ fromJson(item.value).service }}",
        ),
        ".tasks[1].tasks[0].inputs.version": (
            "{{ fromJson(taskrun.value).version }}",
            "{{ fromJson(item.value).version }}",
        ),
    }
    # A failed validation never fails its iteration, at either version.
    assert all(flows["watch-versions"]["tasks"][1]["tasks"][0]["transmitFailed"] is False for flows in (old, new))


@pytest.mark.parametrize("tag", ["v1.0.20", "v2.0.0"])
def test_each_rendering_loads_in_its_version_and_not_in_the_other(tag: str) -> None:
    """Checked here against ContractKestra's model (a TEST DOUBLE); tests/kestra-engine loads them in the
    real 1.0.20 and 2.0.0 engines."""
    flows = render_flows(_with_kestra_image(f"kestra/kestra:{tag}"), runner="process").files
    other = "2.0.0" if tag == "v1.0.20" else "1.0.20"
    for text in flows.values():
        assert check_flow(text, version=tag.lstrip("v")).constraints is None
    refused = check_flow(flows["kestra-flows/watch-versions.yml"], version=other).constraints
    missing = "ForEach" if other == "2.0.0" else "Loop"
    assert refused == f"Validation error: Invalid type: io.kestra.plugin.core.flow.{missing}"


@pytest.mark.parametrize("tag", ["latest", "develop", "sha-1234abc"])
def test_a_tag_that_names_no_release_is_a_catalog_error_naming_the_field(tag: str, tmp_path: Path) -> None:
    with pytest.raises(CatalogError) as caught:
        render_flows(_with_kestra_image(f"kestra/kestra:{tag}"), source="catalog.yaml")
    message = str(caught.value)
    assert "catalog.yaml: services.kestra.image" in message and "project.kestra.version" in message
    # the setting resolves it
    assert render_flows(_with_kestra_image(f"kestra/kestra:{tag}", version="2.0.0")).files


def test_a_bad_version_setting_names_file_line_and_field(tmp_path: Path) -> None:
    data = yaml.safe_load(DEFAULT_CATALOG.read_text())
    data["project"]["kestra"]["version"] = "two"
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    assert f"{path}:" in str(caught.value) and "project.kestra.version" in str(caught.value)


@pytest.mark.parametrize(
    ("version", "waits"),
    [
        ("1.0.20", [0.0, 60.0, 120.0, 180.0, 240.0, 300.0, 300.0]),  # interval*2*(n-1): first retry at once
        ("2.0.0", [30.0, 60.0, 120.0, 240.0, 300.0, 300.0, 300.0]),  # interval*2^(n-1)
    ],
)
def test_exponential_retry_waits_follow_kestra_per_version(version: str, waits: list[float]) -> None:
    """ContractKestra's retry model (TEST DOUBLE) against Exponential.nextRetryDate at each tag, for the
    retry the flows render (PT30S, at most PT5M)."""
    retry = {"type": "exponential", "interval": "PT30S", "maxInterval": "PT5M", "maxAttempts": 8}
    assert [retry_delay(retry, n, version) for n in range(1, 8)] == waits
