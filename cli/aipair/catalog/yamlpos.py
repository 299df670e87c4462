"""Safe YAML loading that remembers where every key and list item came from.

PyYAML (with libyaml when present) parses; this module adds what no YAML library offers in
one piece: line numbers for every mapping key and sequence item of the *constructed* data, so
that a validation error on ``services.qdrant.ports[0].port`` can name its line; refusal of
duplicate keys (PyYAML silently keeps the last one); and a bound on the size that anchors and
aliases expand to, which defuses "billion laughs" documents before anything walks them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

try:  # libyaml's C parser is ~10x faster; the constructor stays in Python either way
    _BaseLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader

MERGE_TAG = "tag:yaml.org,2002:merge"
TYPED_SCALAR_TAGS = frozenset(f"tag:yaml.org,2002:{kind}" for kind in ("int", "float", "bool", "timestamp"))
# What YAML allows in a stream (PyYAML's and libyaml's readers agree); anything else is refused up front,
# where its line is known (their ReaderError has only an offset: characters for one, bytes for the other).
_NOT_ALLOWED = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# YAML's line breaks: a lone CR, NEL and the Unicode line and paragraph separators end a line too.
_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")


class YamlProblem(Exception):
    """A document that cannot be loaded; ``line`` is 1-based (None when unknown)."""

    def __init__(self, message: str, line: int | None = None, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.field = field


class _ConstructFailed(Exception):
    """A constructor raised something other than a YAMLError on ``node`` (`!!int x`, a date `2001-13-45`)."""

    def __init__(self, node: yaml.Node, cause: Exception) -> None:
        super().__init__(str(cause))
        self.node = node
        self.cause = cause


@dataclass
class Positions:
    """Line numbers of the constructed containers, keyed by ``id()`` of each dict and list."""

    key_lines: dict[int, dict[Any, int]] = field(default_factory=dict)
    item_lines: dict[int, list[int]] = field(default_factory=dict)
    # The text as written of mapping values that YAML 1.1 typed (int, float, bool): `0077`, `yes`, `3.10`.
    typed_text: dict[int, dict[Any, str]] = field(default_factory=dict)
    # Holding the containers keeps their ids from being reused while positions are looked up.
    containers: list[Any] = field(default_factory=list)

    def source_text(self, mapping: dict[Any, Any], key: Any) -> str | None:
        """How the value of ``key`` was written, when YAML gave it a type other than string."""
        return self.typed_text.get(id(mapping), {}).get(key)

    def locate(self, data: Any, loc: tuple[Any, ...]) -> tuple[int | None, list[str | int]]:
        """Follow ``loc`` into ``data``; return the deepest known line and the path walked.

        Parts of ``loc`` that are not in the data (pydantic adds union tags and validator
        names) are skipped, except a last part, which is kept: it names a missing field.
        """
        line: int | None = None
        walked: list[str | int] = []
        current = data
        for index, part in enumerate(loc):
            if part == "[key]":  # pydantic's marker for "the mapping key itself is invalid"
                continue
            if isinstance(current, dict) and part in current:
                line = self.key_lines.get(id(current), {}).get(part, line)
                current = current[part]
                walked.append(part)
            elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
                lines = self.item_lines.get(id(current), [])
                line = lines[part] if part < len(lines) else line
                current = current[part]
                walked.append(part)
            elif index == len(loc) - 1 and isinstance(part, str):
                walked.append(part)
        return line, walked


def format_path(parts: list[str | int]) -> str:
    """``['services', 'db', 'ports', 0]`` → ``services.db.ports[0]``.

    A key is the author's text and is shown on a terminal: characters that are not printable (ESC, CR,
    LF, C1 controls, bidi overrides, line separators) are written as escapes, so a key can neither run
    an escape sequence nor forge a line of the message.
    """
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            shown = printable(str(part)) or '""'  # an empty key must still show as a field
            text += f".{shown}" if text else shown
    return text


def printable(text: str) -> str:
    """``text`` with each non-printable character written as ``\\xNN``, ``\\uNNNN`` or ``\\UNNNNNNNN``."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def line_at(text: str, index: int) -> int:
    """The 1-based YAML line of character ``index`` in ``text``."""
    return len(_LINE_BREAK.findall(text, 0, index)) + 1


class _PositionLoader(_BaseLoader):  # type: ignore[misc]
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.positions = Positions()

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """PyYAML's constructors let ValueError, KeyError … escape on text they cannot type: locate them."""
        try:
            return super().construct_object(node, deep=deep)
        except (yaml.YAMLError, _ConstructFailed):
            raise
        except Exception as exc:  # noqa: BLE001 - any constructor failure is a problem of the text at node
            raise _ConstructFailed(node, exc) from None

    def construct_positioned_map(self, node: yaml.MappingNode) -> Iterator[dict[Any, Any]]:
        data: dict[Any, Any] = {}
        yield data
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:
                continue
            key = self.construct_object(key_node)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:
                raise YamlProblem("a mapping key must be a plain value, not a list or mapping", line) from None
            if first is not None:
                raise YamlProblem(f"duplicate key {key!r} (first defined on line {first}); remove one", line)
            seen[key] = line
        data.update(self.construct_mapping(node))  # flattens merge keys (<<) in place
        lines: dict[Any, int] = {}
        typed: dict[Any, str] = {}
        for key_node, value_node in node.value:  # after the merge: explicit keys come last and win
            key = self.construct_object(key_node)
            lines[key] = key_node.start_mark.line + 1
            if isinstance(value_node, yaml.ScalarNode) and value_node.tag in TYPED_SCALAR_TAGS:
                typed[key] = value_node.value
            else:
                typed.pop(key, None)
        self.positions.key_lines[id(data)] = lines
        if typed:
            self.positions.typed_text[id(data)] = typed
        self.positions.containers.append(data)

    def construct_positioned_seq(self, node: yaml.SequenceNode) -> Iterator[list[Any]]:
        data: list[Any] = []
        yield data
        data.extend(self.construct_sequence(node))
        self.positions.item_lines[id(data)] = [item.start_mark.line + 1 for item in node.value]
        self.positions.containers.append(data)


_PositionLoader.add_constructor("tag:yaml.org,2002:map", _PositionLoader.construct_positioned_map)
_PositionLoader.add_constructor("tag:yaml.org,2002:seq", _PositionLoader.construct_positioned_seq)


def _expanded_size(root: yaml.Node, max_nodes: int, max_depth: int) -> int:
    """Count nodes as if every alias were expanded, without expanding anything.

    Memoised on node identity, so the count is linear in the document even when the
    expansion is exponential. Iterative, so deep nesting cannot exhaust Python's stack.
    """
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        if depth > max_depth:
            raise YamlProblem(f"nesting is deeper than {max_depth} levels", node.start_mark.line + 1)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        if not children_done:
            if key in in_progress:
                raise YamlProblem(
                    "an alias refers to an anchor that contains it (a recursive document)", node.start_mark.line + 1
                )
            in_progress.add(key)
            stack.append((node, depth, True))
            stack.extend((child, depth + 1, False) for child in children if id(child) not in sizes)
            continue
        in_progress.discard(key)
        total = 1 + sum(sizes[id(child)] for child in children)
        if total > max_nodes:
            raise YamlProblem(
                f"anchors and aliases expand to more than {max_nodes:,} nodes; "
                "this looks like a YAML bomb — write the values out or use fewer nested aliases",
                node.start_mark.line + 1,
            )
        sizes[key] = total
    return sizes[id(root)]


def _path_to(root: yaml.Node, target: yaml.Node) -> list[str | int]:
    """The path of keys and indexes from ``root`` to ``target`` (a key node names its own key)."""
    stack: list[tuple[yaml.Node, list[str | int]]] = [(root, [])]
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        if node is target:
            return path
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
                stack.append((key_node, [*path, key]))
                stack.append((value_node, [*path, key]))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, [*path, index]) for index, item in enumerate(node.value))
    return []


def _unconstructable(root: yaml.Node, failed: _ConstructFailed) -> YamlProblem:
    node, cause = failed.node, failed.cause
    kind = str(node.tag).rsplit(":", 1)[-1]
    if isinstance(node, yaml.ScalarNode):
        what = repr(node.value)
    else:
        what = "this mapping" if isinstance(node, yaml.MappingNode) else "this list"
    detail = f" ({printable(str(cause))})" if isinstance(cause, ValueError) else ""
    return YamlProblem(
        f"cannot read {what} as {kind}{detail}; quote it if it is text, or write a valid {kind}",
        node.start_mark.line + 1,
        format_path(_path_to(root, node)),
    )


def _refuse_characters(text: str) -> None:
    if found := _NOT_ALLOWED.search(text):
        code = ord(found.group())
        raise YamlProblem(
            f"not valid YAML: the character U+{code:04X} (a control character or non-character) is not "
            'allowed; remove it, or write it as an escape such as "\\x07" inside a double-quoted string',
            line_at(text, found.start()),
        )


def load_positioned(text: str, *, max_nodes: int = 2_000_000, max_depth: int = 64) -> tuple[Any, Positions]:
    """Parse one YAML document into plain data plus the positions of its keys and items."""
    _refuse_characters(text)
    loader = _PositionLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = " ".join(part for part in (exc.context, exc.problem) if part)
            if exc.context_mark and exc.problem_mark and exc.context_mark.line != exc.problem_mark.line:
                problem += f" (the construct began on line {exc.context_mark.line + 1})"
            raise YamlProblem(f"not valid YAML: {printable(problem)}", mark.line + 1 if mark else 1) from None
        except yaml.YAMLError as exc:
            raise YamlProblem(f"not valid YAML: {printable(str(exc))}", 1) from None
        if node is None:
            return None, loader.positions
        _expanded_size(node, max_nodes, max_depth)
        try:
            data = loader.construct_document(node)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            raise YamlProblem(f"cannot load: {printable(str(exc.problem))}", mark.line + 1 if mark else 1) from None
        except _ConstructFailed as exc:
            raise _unconstructable(node, exc) from None
        return data, loader.positions
    finally:
        loader.dispose()
