"""Properties of the CLI and the renderers on generated catalogs (tests/helpers/catalog_strategies.py).

- `catalog validate` exits 0, or 2 naming file, line and field of each problem; never a traceback, and
  `--json` is always one JSON document.
- The renderers never raise anything but the project's errors.
- Nothing but declared secrets is interpolated by Compose: every `$` in the rendered files is `$$` or a
  `${SECRET?…}` of a declared secret; the real Compose binary, run with nothing in its environment but the
  secrets, accepts both files without a warning and gives back exactly the text the catalog meant.
- Kubernetes expands `$(VAR)` and `$$` in command, args and env values: the kubelet's expansion of what is
  rendered gives back exactly the text the catalog meant; every changed object passes strict validation.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given

from aipair.catalog.loader import parse_catalog
from aipair.catalog.model import Catalog
from aipair.catalog.probes import HttpHealth
from aipair.catalog.types import REFERENCE_RE
from aipair.errors import AipairError
from aipair.render.files import render_flows, render_phase

from ..helpers.catalog_strategies import any_catalog_text, base, dump, valid_catalogs
from ..helpers.catalogs import minimal
from ..helpers.commands import invoke
from ..helpers.kube_schemas import ValidationError, validate_strict
from ..helpers.properties import property_settings

KUBERNETES_VERSIONS = ("1.29", "1.33")
FILES = ("compose/docker-compose.yml", "compose/docker-compose.mock.yml")


_settings = property_settings


# --- the CLI: exit 0 or 2, located, never a traceback -------------------------------------------


@_settings(60)
@given(any_catalog_text())
def test_validate_exits_0_or_2_naming_file_line_and_field(text: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "catalog.yaml"
        path.write_text(text, encoding="utf-8")
        result = invoke(["catalog", "validate", "--catalog", str(path)], env={})
        assert result.exit_code in (0, 2), f"exit {result.exit_code}: {result.exception!r}\n{result.output}"
        assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), repr(
            result.exception
        )
        if result.exit_code == 2:
            assert re.search(re.escape(str(path)) + r":\d+: ", result.output), result.output
        as_json = invoke(["catalog", "validate", "--catalog", str(path), "--json"], env={})
        assert as_json.exit_code == result.exit_code, as_json.output
        document = json.loads(as_json.stdout)
        if as_json.exit_code == 2:
            assert all(p["file"] == str(path) and p["line"] for p in document["problems"]), document


# --- the renderers --------------------------------------------------------------------------------

# `${NAME?message}` as the Compose renderer writes a secret reference; the message has no `$`, `{` or `}`.
SECRET_REF = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\?[^${}]*\}")


def stray_dollars(text: str, declared: set[str]) -> list[str]:
    """Each `$` in ``text`` that Compose would interpolate although it is no declared secret (with context)."""
    stray: list[str] = []
    index = text.find("$")
    while index != -1:
        if text.startswith("$$", index):
            index += 2
        elif (match := SECRET_REF.match(text, index)) and match.group(1) in declared:
            index = match.end()
        else:
            stray.append(text[max(0, index - 10) : index + 20])
            index += 1
        index = text.find("$", index)
    return stray


def strings(node: Any) -> list[tuple[str, str]]:
    """Every (kind, text) in a parsed document: mapping keys as "key", everything else as "value"."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.append(("key", str(key)))
            found += strings(value)
    elif isinstance(node, list):
        for item in node:
            found += strings(item)
    elif isinstance(node, str):
        found.append(("value", node))
    return found


def assert_only_declared_secrets(compose_text: str, declared: set[str]) -> None:
    for kind, text in strings(yaml.safe_load(compose_text)):
        if kind == "key":
            assert "$" not in text, f"a `$` in a key: {text!r}"
        else:
            assert not stray_dollars(text, declared), f"interpolated by Compose: {stray_dollars(text, declared)}"


def load(data: dict[str, Any]) -> Catalog:
    return parse_catalog(dump(data))


@_settings(60)
@given(valid_catalogs())
def test_renderers_interpolate_nothing_but_declared_secrets(item: tuple[str, dict[str, Any], list[str]]) -> None:
    _, data, labels = item
    catalog = load(data)
    try:
        mvp = render_phase(catalog, "mvp")
        render_phase(catalog, "scale")
        render_flows(catalog)
    except AipairError:
        return  # a refusal the user can act on is allowed; any other exception fails the property
    for name in FILES:
        assert_only_declared_secrets(mvp.files[name], set(catalog.secrets))
    assert_env_example_has_only_keys(mvp.files["compose/.env.example"], set(catalog.secrets))


def assert_env_example_has_only_keys(text: str, declared: set[str]) -> None:
    """compose/.env.example: comments, blank lines and `NAME=` of declared secrets; no text escapes a comment."""
    for line in text.split("\n"):
        assert line == "" or line.startswith("#") or re.fullmatch(r"[A-Z][A-Z0-9_]*=", line), repr(line)
        if not line.startswith("#") and line:
            assert line[:-1] in declared, repr(line)


def compose(binary: Path, path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), "-f", str(path), *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def canary(secret: str) -> str:
    return f"canary-{secret.lower()}"


def compose_env(catalog: Catalog) -> dict[str, str]:
    """The secrets, and nothing else a deployer's shell might have (no HOME, USER, AWS_…)."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **{name: canary(name) for name in catalog.secrets}}


def meant(catalog: Catalog, value: str | int | float | bool) -> str:
    """What an env value means once Compose resolved it, as `config` prints it (a literal `$` as `$$`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return REFERENCE_RE.sub(lambda m: canary(m.group(1)) if m.group(1) else m.group(0), catalog.expand(str(value)))


def escaped(text: str) -> str:
    return text.replace("$", "$$")


@_settings(20)
@given(valid_catalogs(max_mutations=2))
def test_compose_binary_accepts_the_files_and_reads_back_what_the_catalog_meant(
    compose_binary: Path, item: tuple[str, dict[str, Any], list[str]]
) -> None:
    _, data, labels = item
    catalog = load(data)
    rendering = render_phase(catalog, "mvp")
    env = compose_env(catalog)
    with tempfile.TemporaryDirectory() as directory:
        for name in FILES:
            path = Path(directory) / Path(name).name
            path.write_text(rendering.files[name])
        real = compose(compose_binary, Path(directory) / "docker-compose.yml", env, "config", "--format", "json")
        mock = compose(compose_binary, Path(directory) / "docker-compose.mock.yml", env, "config", "-q")
    for result in (real, mock):
        assert result.returncode == 0, f"{labels}: {result.stderr}"
        assert "level=warning" not in result.stderr, f"{labels}: {result.stderr}"
    services = json.loads(real.stdout)["services"]
    proxy = catalog.project.reverse_proxy
    for name, svc in catalog.in_phase("mvp").items():
        got = services[name]
        if svc.command is not None:
            assert got["command"] == [escaped(part) for part in svc.command], labels
        if svc.entrypoint is not None:
            assert got["entrypoint"] == [escaped(part) for part in svc.entrypoint], labels
        for key, value in svc.env.items():
            assert got["environment"][key] == meant(catalog, value), labels
        if isinstance(svc.health, HttpHealth) and svc.health.probe in ("curl", "wget"):
            assert got["healthcheck"]["test"][-1] == escaped(f"http://127.0.0.1:{svc.health.port}{svc.health.path}")
        if name == proxy and svc.command is None:
            email = catalog.project.tls.acme_email
            assert any(arg.endswith(".acme.email=" + escaped(email)) for arg in got["command"]), got["command"]


def kubelet_expand(text: str, defined: dict[str, str]) -> str:
    """Kubernetes' expansion of `$(VAR)` in command, args and env values (third_party/forked/golang/expansion):
    `$$` is one `$`, `$(NAME)` a defined variable (an undefined one stays as written), any other `$` itself."""
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "$" and index + 1 < len(text):
            following = text[index + 1]
            if following == "$":
                out.append("$")
                index += 2
                continue
            if following == "(":
                close = text.find(")", index + 2)
                if close != -1:
                    name = text[index + 2 : close]
                    out.append(defined.get(name, f"$({name})"))
                    index = close + 1
                    continue
                out.append("$(")
                index += 2
                continue
            out.append("$" + following)
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


def containers(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [c for c in node.get("containers", []) if isinstance(c, dict)]
        for value in node.values():
            found += containers(value)
        return found
    if isinstance(node, list):
        return [c for item in node for c in containers(item)]
    return []


@cache
def _base_objects(name: str) -> frozenset[str]:
    groups, _ = _render_kubernetes(load(base(name)))
    return frozenset(json.dumps(obj, sort_keys=True) for objects in groups.values() for obj in objects)


def _render_kubernetes(catalog: Catalog) -> tuple[dict[str, list[dict[str, Any]]], Any]:
    from aipair.render.kubernetes import render_kubernetes

    return render_kubernetes(catalog)


def _literal_env(catalog: Catalog, value: str | int | float | bool) -> str:
    """What the container should see: `$$` is one `$`, `${SECRET}` the secret's value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return REFERENCE_RE.sub(lambda m: canary(m.group(1)) if m.group(1) else "$", catalog.expand(str(value)))


@_settings(80)
@given(valid_catalogs(max_mutations=2))
def test_kubernetes_objects_are_strictly_valid_and_mean_what_the_catalog_meant(
    item: tuple[str, dict[str, Any], list[str]],
) -> None:
    base_name, data, labels = item
    catalog = load(data)
    groups, _ = _render_kubernetes(catalog)
    unchanged = _base_objects(base_name)  # the shipped catalogs' objects are validated by test_kubernetes.py
    for objects in groups.values():
        for obj in objects:
            if json.dumps(obj, sort_keys=True) in unchanged:
                continue
            for version in KUBERNETES_VERSIONS:
                try:
                    validate_strict(obj, version)
                except ValidationError as exc:
                    pytest.fail(
                        f"{labels}: {obj['kind']}/{obj['metadata']['name']} invalid for {version}: {exc.message}"
                    )
    for name, svc in catalog.in_phase("scale").items():
        found = [c for obj in groups[name] for c in containers(obj) if c["name"] == name]
        if not found:  # a managed endpoint runs no container
            continue
        container = found[0]
        if svc.command is not None:
            assert [kubelet_expand(a, {}) for a in container["args"]] == svc.command, labels
        if svc.entrypoint is not None:
            assert [kubelet_expand(a, {}) for a in container["command"]] == svc.entrypoint, labels
        defined: dict[str, str] = {}
        for entry in container.get("env", []):
            if "valueFrom" in entry:
                key = entry["valueFrom"]["secretKeyRef"]["key"]
                defined[entry["name"]] = canary(key)
                continue
            defined[entry["name"]] = kubelet_expand(entry["value"], defined)
            if entry["name"] in svc.env:
                assert defined[entry["name"]] == _literal_env(catalog, svc.env[entry["name"]]), (labels, entry)


# --- the minimal failing examples the properties found, as plain regression tests -------------------


@pytest.mark.parametrize("description", ["token\nCACHE_PASSWORD=attacker", "token\rAPI_TOKEN=x", "a\u2028B=1"])
def test_a_secret_description_stays_inside_its_comment_in_env_example(description: str) -> None:
    """Today a newline in `secrets.X.description` ends the comment: `CACHE_PASSWORD=attacker (supplied: …)`
    becomes a line of compose/.env.example, which operators copy to compose/.env."""
    data = minimal()
    data["secrets"]["API_TOKEN"]["description"] = description
    catalog = load(data)
    text = render_phase(catalog, "mvp").files["compose/.env.example"]
    assert_env_example_has_only_keys(text, set(catalog.secrets))
    assert [line for line in text.splitlines() if not line.startswith("#") and line] == [
        "CACHE_PASSWORD=",
        "API_TOKEN=",
    ]


@pytest.mark.parametrize("literal", ["a$$b", "$$", "$$$(x)", "price: $$5"])
def test_kubernetes_command_and_env_keep_a_double_dollar(literal: str) -> None:
    """The kubelet turns `$$` into `$` in command, args and env values; only `$(` is escaped today, so
    command `a$$b` runs as `a$b` (and env `a$$$$b`, meaning `a$$b`, arrives as `a$b`)."""
    data = minimal()
    data["services"]["web"]["command"] = [literal]
    data["services"]["web"]["env"] = {"LITERAL": literal.replace("$", "$$")}
    groups, _ = _render_kubernetes(load(data))
    (container,) = [c for obj in groups["web"] for c in containers(obj) if c["name"] == "web"]
    assert kubelet_expand(container["args"][0], {}) == literal
    (env,) = [e for e in container["env"] if e["name"] == "LITERAL"]
    assert kubelet_expand(env["value"], {}) == literal


@pytest.mark.parametrize(
    "description",
    ["a\x1eAPI_TOKEN=x", "a\u2029API_TOKEN=x", "a\x0bAPI_TOKEN=x", "a\x0cAPI_TOKEN=x", "a\r\n\r\nAPI_TOKEN=x\n"],
    ids=["record-separator", "paragraph-separator", "vertical-tab", "form-feed", "crlf-blank-line"],
)
def test_every_line_break_in_a_secret_description_stays_in_the_comment(description: str) -> None:
    """Every break `str.splitlines` knows (editors and other parsers honour some of them) becomes a space."""
    data = minimal()
    data["secrets"]["API_TOKEN"]["description"] = description
    catalog = load(data)
    text = render_phase(catalog, "mvp").files["compose/.env.example"]
    assert [line for line in text.splitlines() if not line.startswith("#") and line] == [
        "CACHE_PASSWORD=",
        "API_TOKEN=",
    ]
    (comment,) = [line for line in text.splitlines() if "API_TOKEN=x" in line]
    assert comment.startswith("# a ") and comment.endswith("(supplied: set it yourself)"), comment
