"""What reaches Compose and Kubernetes from catalog text: nothing is interpolated but declared secrets.

Compose interpolates `$VAR`, `${VAR}`, `${VAR:-x}` anywhere in the file from the deployer's shell and
compose/.env; Kubernetes expands `$(VAR)` in container command, args and env values. A catalog string
is meant literally (env values: `${SECRET}` references a catalog secret, `$$` is a literal `$`), so
the rendered text must survive each tool's expansion unchanged. The real Compose binary checks the
same in tests/cli/test_escaping_compose.py; Kubernetes' expansion is reproduced here (`k8s_expand`,
a faithful port of the kubelet's `third_party/forked/golang/expansion`), as no kubelet runs in tests.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from aipair.catalog import parse_catalog
from aipair.catalog.model import Catalog
from aipair.render.compose import render_compose
from aipair.render.kubernetes import render_kubernetes

from ..helpers.catalogs import minimal
from ..helpers.hostile import PAYLOADS, assert_payload_literal, compose_literal, hostile

PROBES = ["curl", "wget", "node", "python", "bash"]
# `${NAME?message}` as aipair writes a secret reference: the only interpolation allowed in the file.
SECRET_REF = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\?[^}]*\}")


def _catalog(data: dict[str, Any]) -> Catalog:
    return parse_catalog(yaml.safe_dump(data, sort_keys=False))


def strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in strings(value)]
    return [node] if isinstance(node, str) else []


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("profile", ["real", "mock"])
def test_only_declared_secrets_are_interpolated_by_compose(payload: str, profile: str) -> None:
    catalog = _catalog(hostile(payload))
    document, _ = render_compose(catalog, profile=profile)
    for text in strings(document):
        for name in SECRET_REF.findall(text):
            assert name in catalog.secrets
        compose_literal(SECRET_REF.sub("", text))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_catalog_text_reaches_compose_literally(payload: str) -> None:
    services = render_compose(_catalog(hostile(payload)))[0]["services"]
    assert_payload_literal(services, payload)
    mock = render_compose(_catalog(hostile(payload)), profile="mock")[0]["services"]["web"]
    assert f"/s{payload}" in [compose_literal(part) for part in mock["command"]]
    assert f"/h{payload}" in [compose_literal(part) for part in mock["command"]]


def test_secret_references_stay_references() -> None:
    data = minimal()
    data["services"]["web"]["env"]["MIXED"] = "$$${CACHE_PASSWORD}$$"
    web = render_compose(_catalog(data))[0]["services"]["web"]
    ref = web["environment"]["CACHE_URL"]
    assert SECRET_REF.findall(ref) == ["CACHE_PASSWORD"]
    assert compose_literal(SECRET_REF.sub("@", ref)) == "redis://:@@cache:6379/0"
    assert SECRET_REF.findall(web["environment"]["MIXED"]) == ["CACHE_PASSWORD"]
    assert compose_literal(SECRET_REF.sub("S", web["environment"]["MIXED"])) == "$S$"


# --- shell and code in probes ------------------------------------------------------------------

HOSTILE_PATHS = [
    "/x;touch${IFS}/tmp/pwned",
    "/x'$(touch${IFS}/tmp/pwned)'",
    '/x"quoted"',
    "/x`id`",
    "/x%s%n%%",
    "/x|id&&id>out",
    "/x')+__import__('os').system('id')#",
    "/x\"+require('child_process').execSync('id')+\"",
]


@pytest.mark.parametrize("path", HOSTILE_PATHS)
@pytest.mark.parametrize("probe", PROBES)
def test_http_probe_passes_the_path_as_one_argument(probe: str, path: str) -> None:
    """No probe embeds the path in shell or program text: it is an argument of its own."""
    data = minimal()
    data["services"]["web"]["health"] = {"type": "http", "port": 8000, "path": path, "probe": probe}
    test = [
        compose_literal(part) for part in render_compose(_catalog(data))[0]["services"]["web"]["healthcheck"]["test"]
    ]
    assert test[0] == "CMD"  # exec form: no shell around the program
    program_text = [part for part in test[1:] if path not in part]
    assert path in test or f"http://127.0.0.1:8000{path}" in test
    assert len(program_text) == len(test) - 2, test  # the path appears in exactly one argument


# --- Kubernetes' $(VAR) expansion ----------------------------------------------------------------


def k8s_expand(text: str, env: dict[str, str]) -> str:
    """The kubelet's expansion of command, args and env values (a port of expansion.Expand, a test double)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "$" and i + 1 < len(text):
            following = text[i + 1]
            if following == "$":
                out.append("$")
                i += 2
            elif following == "(":
                close = text.find(")", i + 2)
                if close == -1:
                    out.append("$(")
                    i += 2
                else:
                    name = text[i + 2 : close]
                    out.append(env.get(name, f"$({name})"))
                    i = close + 1
            else:
                out.append("$" + following)
                i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


K8S_PAYLOADS = ["$(HOME)", "$$(X)", "$HOME", "tail$", "$", "$$", "$$$$", "$$$(HOME)", "a$(", "$($(HOME))", "$()"]
# Variables a pod could see: the image's, and the helper aipair defines for a secret reference.
POD_ENV = {"HOME": "/root", "X": "xval", "AIPAIR_SECRET_CACHE_PASSWORD": "s3cret", "": "empty"}


def _container(catalog: Catalog, kind: str, name: str) -> dict[str, Any]:
    groups, _ = render_kubernetes(catalog)
    obj = next(o for o in groups[name] if o["kind"] == kind)
    return obj["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("payload", K8S_PAYLOADS)
def test_kubernetes_expands_nothing_the_catalog_means_literally(payload: str) -> None:
    data = minimal()
    web = data["services"]["web"]
    web["entrypoint"] = ["/entry", f"e{payload}"]
    web["command"] = ["serve", f"c{payload}", payload]
    web["env"]["LITERAL"] = payload.replace("$", "$$")
    web["env"]["MIXED"] = payload.replace("$", "$$") + "${CACHE_PASSWORD}" + payload.replace("$", "$$")
    container = _container(_catalog(data), "Deployment", "web")
    assert [k8s_expand(part, POD_ENV) for part in container["command"]] == ["/entry", f"e{payload}"]
    assert [k8s_expand(part, POD_ENV) for part in container["args"]] == ["serve", f"c{payload}", payload]
    env = {e["name"]: e for e in container["env"]}
    assert k8s_expand(env["LITERAL"]["value"], POD_ENV) == payload
    assert k8s_expand(env["MIXED"]["value"], POD_ENV) == payload + "s3cret" + payload
    assert env["AIPAIR_SECRET_CACHE_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "CACHE_PASSWORD"
    assert k8s_expand(env["PRICE"]["value"], POD_ENV) == "$5"


def test_kubernetes_output_has_no_compose_escaping() -> None:
    """`$$` is Compose's escape; Kubernetes would turn it into `$`, so a plain `$` stays single."""
    data = minimal()
    data["services"]["web"]["command"] = ["echo", "$HOME", "cost: 5$"]
    container = _container(_catalog(data), "Deployment", "web")
    assert container["args"] == ["echo", "$HOME", "cost: 5$"]
    assert {e["name"]: e.get("value") for e in container["env"]}["PRICE"] == "$5"
