"""A worker mounting its web app's volume (Chatwoot, Twenty upstream): one volume, owned by the web app."""

from __future__ import annotations

import yaml

from aipair.catalog import parse_catalog
from aipair.ops.operate import data_volumes
from aipair.render.compose import render_compose
from aipair.render.kubernetes import render_kubernetes

from ..helpers.catalogs import minimal


def _catalog():  # type: ignore[no-untyped-def]
    data = minimal()
    data["services"]["web"]["volumes"] = [{"name": "uploads", "path": "/srv/uploads", "size": "5Gi"}]
    data["services"]["worker"] = {
        "layer": "application",
        "image": "ghcr.io/demo/web:1.2.3",
        "command": ["worker"],
        "health": {"type": "command", "command": ["pgrep", "worker"]},
        "volumes": [{"name": "uploads", "path": "/data/uploads", "shared_from": "web"}],
        "depends_on": {"web": "healthy"},
    }
    return parse_catalog(yaml.safe_dump(data))


def test_compose_mounts_the_owners_volume_and_declares_it_once() -> None:
    document, _ = render_compose(_catalog())
    worker = document["services"]["worker"]["volumes"]
    assert worker == [{"type": "volume", "source": "web-uploads", "target": "/data/uploads"}]
    assert document["services"]["web"]["volumes"][0]["source"] == "web-uploads"
    assert [name for name in document["volumes"] if "uploads" in name] == ["web-uploads"]
    assert data_volumes(_catalog()) == ["demo_cache-data", "demo_web-uploads"]  # `down --volumes` deletes it once


def test_kubernetes_has_one_read_write_many_claim_for_both_pods() -> None:
    groups, notes = render_kubernetes(_catalog())
    claims = [o for objs in groups.values() for o in objs if o["kind"] == "PersistentVolumeClaim"]
    assert [(c["metadata"]["name"], c["spec"]["accessModes"]) for c in claims] == [("web-uploads", ["ReadWriteMany"])]
    worker = next(o for o in groups["worker"] if o["kind"] == "Deployment")["spec"]["template"]["spec"]
    assert worker["volumes"] == [{"name": "uploads", "persistentVolumeClaim": {"claimName": "web-uploads"}}]
    assert any(n.service == "web" and "shared with worker" in n.message for n in notes)
