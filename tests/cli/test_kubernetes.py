"""Phase 2 manifests written by `aipair render --phase scale`, checked against strict Kubernetes schemas."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from aipair.catalog import load_catalog
from aipair.cli import app
from aipair.render.kubernetes import render_kubernetes

from ..helpers.kube_schemas import ValidationError, validate_strict
from ..helpers.paths import CATALOGS, DEFAULT_CATALOG, ROOT

KUBERNETES_VERSIONS = ("1.29", "1.33")


def _rendered_files(tmp_path: Path, catalog_path: Path) -> list[dict[str, Any]]:
    shutil.copy(catalog_path, tmp_path / "catalog.yaml")
    result = CliRunner().invoke(app, ["render", "--phase", "scale", "--catalog", str(tmp_path / "catalog.yaml")])
    assert result.exit_code == 0, result.output
    kustomization = yaml.safe_load((tmp_path / "k8s" / "kustomization.yaml").read_text())
    objects = []
    for name in kustomization["resources"]:
        objects += [o for o in yaml.safe_load_all((tmp_path / "k8s" / name).read_text()) if o]
    return objects


@pytest.mark.parametrize("catalog_path", CATALOGS, ids=lambda p: p.stem)
def test_every_manifest_passes_strict_schemas(tmp_path: Path, catalog_path: Path) -> None:
    objects = _rendered_files(tmp_path, catalog_path)
    assert len(objects) > 10
    for obj in objects:
        for version in KUBERNETES_VERSIONS:
            try:
                validate_strict(obj, version)
            except ValidationError as exc:
                pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} invalid for {version}: {exc.message}")


def test_strict_validation_can_fail() -> None:
    broken = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x", "nmespace": "y"}, "spec": {}}
    with pytest.raises(ValidationError):
        validate_strict(broken, "1.33")


def test_scale_render_is_deterministic_and_checked(tmp_path: Path) -> None:
    first = render_kubernetes(load_catalog(DEFAULT_CATALOG))
    second = render_kubernetes(load_catalog(DEFAULT_CATALOG))
    assert first == second
    result = CliRunner().invoke(app, ["render", "--check", "--catalog", str(ROOT / "catalog.yaml")])
    assert result.exit_code == 0, result.output
