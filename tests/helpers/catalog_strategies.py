"""Hypothesis strategies for catalogs: the shipped catalogs, mutated.

Three families, from gentle to hostile:
- ``valid_catalogs``: a shipped catalog with hostile *text* put where the model accepts free text (env values,
  commands, health commands, smoke commands, the ACME e-mail, descriptions, file contents, upgrade
  settings), and the hostile text a request path on the service may still hold in health paths and smoke
  URLs (`$`, quotes, `%`, braces; no whitespace, `@`, backslash or leading `//`). They all load, so the
  renderers get exercised on them.
- ``mutated_texts``: the same, plus structural damage (a field removed, replaced by a value of another type,
  an unknown key, a duplicated list item, a renamed service), dumped to YAML.
- ``broken_texts``: YAML text damaged as text (truncated, characters inserted, a line duplicated, a raw
  unquoted value put after a key, a tab in the indentation).

Every base catalog is a plain dict loaded once; each example gets a deep copy.
"""

from __future__ import annotations

import copy
import re
from functools import cache
from typing import Any

import yaml
from hypothesis import strategies as st

from .catalogs import dump as dump_fast
from .catalogs import minimal
from .paths import CATALOGS

Data = dict[str, Any]
Path_ = tuple[Any, ...]

# Fragments that break naive quoting, interpolation and YAML typing.
DOLLARS = ["$", "$$", "$$$", "${", "}", "${HOME}", "$HOME", "$(id)", "$$(", "$(", ")", "${X:-y}", "${PWD?}", "$1"]
QUOTES = ["'", '"', "`", "\\", "\\n", "%", "%%", "{", "}", "[", "]", "{domain}"]
YAMLISH = ["yes", "no", "on", "off", "null", "~", "0077", "0x1F", "1e3", ".inf", "true", "---", "...", "#", ": ", "- "]
CONTROL = ["\n", "\r\n", "\t", " ", "\x00", "\x07", "\x1b[2J", "\x7f", "\u0085", "\u2028", "\ufeff", "\u202e"]
UNICODE = ["é", "中文", "😀", "İ", "ß", "\u0301"]
FRAGMENTS = DOLLARS + QUOTES + YAMLISH + CONTROL + UNICODE

# The names a mutation may pick; `${NAME}` of these is a declared reference in every base catalog that has them.
ENV_KEY = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_.]{0,12}\Z")
SLUG = st.from_regex(r"\A[a-z]([a-z0-9-]{0,8}[a-z0-9])?\Z")


def hostile_text(fragments: list[str] = FRAGMENTS, *, max_parts: int = 5) -> st.SearchStrategy[str]:
    """Strings glued from hostile fragments and short random text."""
    part = st.one_of(st.sampled_from(fragments), st.text(max_size=4))
    return st.lists(part, max_size=max_parts).map("".join)


def _on_the_service(text: str) -> bool:
    return all(0x21 <= ord(c) <= 0x7E for c in text) and "@" not in text and "\\" not in text


# A request path on the service (health.path, smoke.http) is no longer free text: the model refuses
# whitespace, control and non-ASCII characters, `@`, a backslash and a leading `//` (they can name another
# host). What stays allowed is still hostile to the renderers: `$`, `${…}`, `$(…)`, quotes, `%`, braces.
PATH_FRAGMENTS = [f for f in DOLLARS + QUOTES + YAMLISH if f and _on_the_service(f)]
PATH_TEXT = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="@\\"))


def service_path() -> st.SearchStrategy[str]:
    """`/` and then hostile text a path on the service may hold; never `//` at the start."""
    part = st.one_of(st.sampled_from(PATH_FRAGMENTS), PATH_TEXT.filter(lambda t: len(t) <= 4))
    return st.lists(part, max_size=5).map(lambda parts: "/" + "".join(parts).lstrip("/"))


def no_space(text: str) -> str:
    """``text`` without whitespace: for fields whose pattern is `\\S*` (health paths, e-mail parts)."""
    return re.sub(r"\s", "", text)


# --- the base catalogs ------------------------------------------------------------------------


@cache
def _bases() -> tuple[tuple[str, Data], ...]:
    loaded = [(path.stem, yaml.safe_load(path.read_text())) for path in CATALOGS]
    return (("minimal", minimal()), *loaded)


def base_names() -> list[str]:
    return [name for name, _ in _bases()]


def base(name: str) -> Data:
    """A fresh copy of the base catalog ``name``."""
    return copy.deepcopy(dict(_bases())[name])


# Small catalogs first: Hypothesis shrinks towards the first element, and they render fastest.
BASE_NAMES = st.sampled_from(["minimal", "gestasai", "ai-ecosystem", "catalog"])


# --- value mutations: hostile text where the model takes free text ----------------------------


def _env_value(secrets: list[str]) -> st.SearchStrategy[str]:
    """Env text the loader accepts: no lone `$`; `$$` literal; `${NAME}` only of declared secrets."""
    safe = [f for f in FRAGMENTS if "$" not in f] + ["$$", "$$$$", "$${HOME}", "$$HOME", "$$(id)", "$$("]
    refs = ["${" + name + "}" for name in secrets[:4]]
    text = st.text(max_size=4).map(lambda s: s.replace("$", "$$"))
    return st.lists(st.one_of(st.sampled_from(safe + refs), text), max_size=5).map("".join)


def _health(draw: st.DrawFn, service: Data) -> Data | None:
    ports = [p["port"] for p in service.get("ports", []) if isinstance(p, dict) and "port" in p]
    kind = draw(st.sampled_from(["http", "command-list", "command-shell"] if ports else ["command-list"]))
    if kind == "http":
        path = draw(service_path())
        probe = draw(st.sampled_from(["curl", "wget", "node", "python", "bash", "none"]))
        return {"type": "http", "port": draw(st.sampled_from(ports)), "path": path, "probe": probe}
    if kind == "command-list":
        parts = draw(st.lists(hostile_text().filter(bool), min_size=1, max_size=3))
        return {"type": "command", "command": parts}
    return {"type": "command", "command": draw(hostile_text().filter(bool))}


@st.composite
def value_mutation(draw: st.DrawFn, data: Data) -> str:
    """Put hostile text into one free-text field of ``data`` (in place); return a label of what changed."""
    services = data["services"]
    name = draw(st.sampled_from(sorted(services)))
    service = services[name]
    secrets = sorted(data.get("secrets") or {})
    where = draw(
        st.sampled_from(
            [
                "env",
                "command",
                "entrypoint",
                "health",
                "smoke-http",
                "smoke-command",
                "acme_email",
                "description",
                "file",
                "upgrade",
                "secret-description",
            ]
        )
    )
    if where == "env":
        service.setdefault("env", {})[draw(ENV_KEY)] = draw(_env_value(secrets))
    elif where in ("command", "entrypoint"):
        service[where] = draw(st.lists(hostile_text(), min_size=1, max_size=3))
    elif where == "health":
        if service.get("kind") == "job":
            return "health-of-job-skipped"
        service["health"] = _health(draw, service)
    elif where == "smoke-http":
        service["smoke"] = [{"name": "hostile", "http": draw(service_path())}]
    elif where == "smoke-command":
        service["smoke"] = [{"name": "hostile", "command": draw(st.lists(hostile_text(), min_size=1, max_size=3))}]
    elif where == "acme_email":
        local, host = no_space(draw(hostile_text())).replace("@", ""), no_space(draw(hostile_text())).replace("@", "")
        data["project"]["tls"]["acme_email"] = f"{local or 'a'}@{host or 'b'}.{draw(SLUG)}"
    elif where == "description":
        target = draw(st.sampled_from([service, data["project"]]))
        target["description"] = draw(hostile_text())
    elif where == "file":
        service["files"] = [{"path": "/etc/hostile.conf", "content": draw(hostile_text(max_parts=8))}]
    elif where == "upgrade":
        service["upgrade"] = {"suffix": draw(hostile_text()), "ignore": draw(st.lists(hostile_text(), max_size=2))}
    else:  # secret-description
        if not secrets:
            return "no-secrets-skipped"
        data["secrets"][draw(st.sampled_from(secrets))]["description"] = draw(hostile_text())
    return f"{where}@{name}"


@st.composite
def valid_catalogs(draw: st.DrawFn, *, max_mutations: int = 3) -> tuple[str, Data, list[str]]:
    """(base name, mutated catalog dict, labels): hostile text only where the model takes free text."""
    name = draw(BASE_NAMES)
    data = base(name)
    labels = [draw(value_mutation(data)) for _ in range(draw(st.integers(1, max_mutations)))]
    return name, data, labels


# --- structural mutations -----------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(), hostile_text()
)
ANY_VALUE = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.one_of(hostile_text(), st.integers()), inner, max_size=3)
    ),
    max_leaves=6,
)


def paths(node: Any, prefix: Path_ = ()) -> list[Path_]:
    """Every path to a value inside ``node`` (dict keys and list indexes), parents before children."""
    found: list[Path_] = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.append((*prefix, key))
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.append((*prefix, index))
            found += paths(value, (*prefix, index))
    return found


def _parent(data: Any, path: Path_) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


@st.composite
def structural_mutation(draw: st.DrawFn, data: Data) -> str:
    """Damage the structure of ``data`` at one random place (in place); return a label."""
    path = draw(st.sampled_from(paths(data)))
    parent, last = _parent(data, path), path[-1]
    operation = draw(st.sampled_from(["delete", "replace", "unknown-key", "duplicate-item", "wrap", "rename"]))
    if operation == "delete":
        del parent[last]
    elif operation == "replace":
        parent[last] = draw(ANY_VALUE)
    elif operation == "unknown-key" and isinstance(parent[last], dict):
        parent[last][draw(hostile_text().filter(bool))] = draw(SCALARS)
    elif operation == "duplicate-item" and isinstance(parent[last], list) and parent[last]:
        parent[last].append(copy.deepcopy(parent[last][0]))  # duplicate port/volume/file names
    elif operation == "wrap":
        parent[last] = [parent[last]]
    elif operation == "rename" and isinstance(parent, dict):
        new = draw(st.one_of(hostile_text(), SLUG, st.integers(), st.none()))
        if new not in parent:
            parent[new] = parent.pop(last)
    return f"{operation}@{'.'.join(map(str, path))}"


def dump(data: Any) -> str:
    return dump_fast(data, allow_unicode=True)


@st.composite
def mutated_texts(draw: st.DrawFn) -> str:
    """Catalog text after a mix of value and structural mutations: valid or not, always YAML."""
    data = base(draw(BASE_NAMES))
    for _ in range(draw(st.integers(0, 2))):  # values first: they need the structure intact
        draw(value_mutation(data))
    for _ in range(draw(st.integers(1, 3))):
        draw(structural_mutation(data))
    return dump(data)


# --- textual damage -----------------------------------------------------------------------------


@st.composite
def broken_texts(draw: st.DrawFn) -> str:
    """Catalog text damaged as text; often not YAML at all, sometimes YAML with other types or duplicate keys."""
    name = draw(st.sampled_from(["minimal", "gestasai", "catalog"]))
    text = dump(base(name)) if name == "minimal" or draw(st.booleans()) else dict(_raw_texts())[name]
    lines = text.splitlines(keepends=True)
    operation = draw(st.sampled_from(["truncate", "insert", "duplicate-line", "raw-value", "tab", "swap-lines"]))
    if operation == "truncate":
        return text[: draw(st.integers(0, len(text)))]
    if operation == "insert":
        at = draw(st.integers(0, len(text)))
        return text[:at] + draw(hostile_text(FRAGMENTS + [":", "&a", "*a", "!!binary", "<<: *a", "|", ">"])) + text[at:]
    index = draw(st.integers(0, len(lines) - 1))
    if operation == "duplicate-line":
        lines.insert(index, lines[index])
    elif operation == "raw-value":
        key, colon, _ = lines[index].partition(": ")
        if colon:  # an unquoted, YAML-typed value: 0077, yes, ~, .inf, *alias …
            lines[index] = (
                f"{key}: {draw(hostile_text(YAMLISH + QUOTES + DOLLARS + ['*a', '&a x', '!!str', '!!int x']))}\n"
            )
    elif operation == "tab":
        lines[index] = "\t" + lines[index]
    else:
        other = draw(st.integers(0, len(lines) - 1))
        lines[index], lines[other] = lines[other], lines[index]
    return "".join(lines)


@cache
def _raw_texts() -> tuple[tuple[str, str], ...]:
    return tuple((path.stem, path.read_text()) for path in CATALOGS)


def any_catalog_text() -> st.SearchStrategy[str]:
    """Every family: mutated (dumped) catalogs, damaged text, and valid ones with hostile values."""
    return st.one_of(valid_catalogs().map(lambda item: dump(item[1])), mutated_texts(), broken_texts())
