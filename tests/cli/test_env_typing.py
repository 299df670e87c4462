"""Env values are text exactly as written: YAML 1.1 typing must not turn `0077` into "63" or `yes` into "true".

An environment variable is a string; an unquoted `0077` (a umask), `3.10` (a version) or `on` is
meant as written, so the rendered Compose and Kubernetes values keep the source text.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from aipair.cli import app

from ..helpers.catalogs import minimal

# unquoted source text → what the container must see
VARIANTS = {
    "0077": "0077",  # YAML 1.1 octal: 63
    "0o17": "0o17",
    "yes": "yes",  # YAML 1.1 bool: true
    "no": "no",
    "on": "on",
    "off": "off",
    "True": "True",
    "1e3": "1e3",
    "1.0e+3": "1.0e+3",  # float: 1000.0
    "0x1F": "0x1F",  # hex: 31
    "12:30": "12:30",  # sexagesimal: 750
    "0b101": "0b101",  # binary: 5
    "1_000": "1_000",  # 1000
    "3.10": "3.10",  # a version: 3.1
    ".inf": ".inf",
    "-.5": "-.5",
    # as today
    "3000": "3000",
    "true": "true",
    "false": "false",
    "'0077'": "0077",
    '"yes"': "yes",
    "2024-01-01": "2024-01-01",  # YAML 1.1 timestamps
    "2001-12-14t21:59:43.10-05:00": "2001-12-14t21:59:43.10-05:00",
}


def _catalog_text(source: str) -> str:
    text = yaml.safe_dump(minimal(), sort_keys=False)
    anchor = "      PUBLIC_URL: https://www.{domain}\n"
    assert anchor in text
    return text.replace(anchor, anchor + f"      TYPED: {source}\n")


@pytest.mark.parametrize("source", VARIANTS)
def test_env_values_keep_their_source_text(tmp_path: Path, source: str) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(_catalog_text(source))
    runner = CliRunner()
    validated = runner.invoke(app, ["catalog", "validate", "--catalog", str(catalog)])
    assert validated.exit_code == 0, validated.output
    rendered = runner.invoke(app, ["render", "--catalog", str(catalog), "--out", str(tmp_path / "out")])
    assert rendered.exit_code == 0, rendered.output

    compose = yaml.safe_load((tmp_path / "out" / "compose" / "docker-compose.yml").read_text())
    assert compose["services"]["web"]["environment"]["TYPED"] == VARIANTS[source]
    objects = list(yaml.safe_load_all((tmp_path / "out" / "k8s" / "web.yaml").read_text()))
    deployment = next(o for o in objects if o and o["kind"] == "Deployment")
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["TYPED"] == VARIANTS[source]


def test_values_outside_env_keep_their_types(tmp_path: Path) -> None:
    """Only env values are text: ports, replicas and flags stay numbers and booleans."""
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(_catalog_text("0077"))
    rendered = CliRunner().invoke(app, ["render", "--phase", "mvp", "--catalog", str(catalog), "--out", str(tmp_path)])
    assert rendered.exit_code == 0, rendered.output
    web = yaml.safe_load((tmp_path / "compose" / "docker-compose.yml").read_text())["services"]["web"]
    assert web["expose"] == ["8000"]


def test_env_shared_through_an_anchor_keeps_its_source_text(tmp_path: Path) -> None:
    """Merged keys (`<<: *anchor`) keep the text of the mapping they come from."""
    text = _catalog_text("0077").replace(
        "    env:\n      REDIS_ARGS", "    env: &common\n      UMASK: 0022\n      REDIS_ARGS"
    )
    text = text.replace("      TYPED: 0077\n", "      TYPED: 0077\n      <<: *common\n")
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(text)
    rendered = CliRunner().invoke(app, ["render", "--phase", "mvp", "--catalog", str(catalog), "--out", str(tmp_path)])
    assert rendered.exit_code == 0, rendered.output
    services = yaml.safe_load((tmp_path / "compose" / "docker-compose.yml").read_text())["services"]
    assert services["cache"]["environment"]["UMASK"] == "0022"
    assert services["web"]["environment"]["UMASK"] == "0022"
    assert services["web"]["environment"]["TYPED"] == "0077"
