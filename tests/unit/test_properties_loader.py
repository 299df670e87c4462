"""Property: on any catalog text, the loader returns a catalog or a CatalogError locating every problem.

Never another exception (a traceback for the user), and never a problem without its line or, once the text
is a YAML mapping, without its field. The examples are generated (tests/helpers/catalog_strategies.py):
the shipped catalogs with hostile values, structural damage and textual damage.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given

from aipair.catalog.loader import parse_catalog
from aipair.catalog.yamlpos import YamlProblem, load_positioned
from aipair.errors import CatalogError

from ..helpers.catalog_strategies import broken_texts, dump, mutated_texts, valid_catalogs
from ..helpers.catalogs import minimal
from ..helpers.properties import property_settings

SOURCE = "some/dir/catalog.yaml"
PROPERTY = property_settings(150)


def assert_loads_or_locates(text: str) -> None:
    """The invariant: a Catalog, or a CatalogError whose every problem names the file, a line and a field."""
    try:
        parse_catalog(text, source=SOURCE)
    except CatalogError as error:
        assert error.problems, "a CatalogError without problems"
        lines = len(text.splitlines()) + 1  # generous: YAML also breaks lines at \x85 and \u2028
        mapping = _is_mapping(text)
        for problem in error.problems:
            assert problem.file == SOURCE, problem
            assert problem.line is not None, f"no line: {problem}"
            assert 1 <= problem.line <= lines, f"line out of range: {problem}"
            if mapping:  # a schema or cross-reference problem: it has a field
                assert problem.field, f"no field: {problem}"
            assert str(problem) in str(error)
            assert not _controls(str(problem)), f"control characters reach the terminal: {problem!r}"


def _controls(text: str) -> list[str]:
    """C0 and C1 control characters (ESC sequences, CR, NUL …): a message must show them escaped."""
    return [c for c in text if ord(c) < 32 or 0x7F <= ord(c) < 0xA0]


def _is_mapping(text: str) -> bool:
    try:
        data, _ = load_positioned(text)
    except YamlProblem:
        return False
    return isinstance(data, dict)


@PROPERTY
@given(valid_catalogs())
def test_hostile_text_in_free_text_fields_loads(item: tuple[str, dict[str, Any], list[str]]) -> None:
    """Free-text fields take any text: `$`, quotes, newlines, control characters, YAML-special words."""
    _, data, labels = item
    try:
        parse_catalog(dump(data), source=SOURCE)
    except CatalogError as error:
        pytest.fail(f"{labels}: {error}")


@PROPERTY
@given(mutated_texts())
def test_structurally_damaged_catalogs_load_or_locate_every_problem(text: str) -> None:
    assert_loads_or_locates(text)


@PROPERTY
@given(broken_texts())
def test_textually_damaged_catalogs_load_or_locate_every_problem(text: str) -> None:
    assert_loads_or_locates(text)


# --- the minimal failing examples the properties found, as plain regression tests -------------------


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("version: !!int x\n", id="int-tag"),  # ValueError: invalid literal for int()
        pytest.param("version: !!float x\n", id="float-tag"),  # ValueError: could not convert string to float
        pytest.param("version: !!bool x\n", id="bool-tag"),  # KeyError: 'x'
        pytest.param("version: !!timestamp x\n", id="timestamp-tag"),  # AttributeError: 'NoneType' … 'groupdict'
    ],
)
def test_an_explicit_tag_on_a_wrong_scalar_is_a_located_problem(text: str) -> None:
    with pytest.raises(CatalogError) as raised:
        parse_catalog(text, source=SOURCE)
    assert [(p.line, p.field) for p in raised.value.problems][:1] == [(1, "version")]


@pytest.mark.parametrize("item", [{"cache": "healthy"}, ["cache"]], ids=["mapping-item", "list-item"])
def test_depends_on_list_with_an_unhashable_item_is_a_located_problem(item: object) -> None:
    """`depends_on: [{cache: healthy}]` (a list of one mapping): TypeError: unhashable type: 'dict'."""
    data = minimal()
    data["services"]["web"]["depends_on"] = [item]
    assert_loads_or_locates(dump(data))
    with pytest.raises(CatalogError):
        parse_catalog(dump(data), source=SOURCE)


@pytest.mark.parametrize("missing", ["version", "project", "services"])
def test_a_missing_top_level_field_has_a_line(missing: str) -> None:
    """Today: `some/dir/catalog.yaml: version: missing required field`, no line (Problem.line is None)."""
    data = minimal()
    del data[missing]
    assert_loads_or_locates(dump(data))


@pytest.mark.parametrize("text", ["a: b\x00\n", "version: 1\n\x07\n", "a: \x1b[2J\n"], ids=["nul", "bell", "esc"])
def test_a_control_character_in_the_file_has_a_line(text: str) -> None:
    """PyYAML's ReaderError has a position but no mark: today the problem has no line."""
    assert_loads_or_locates(text)


@pytest.mark.parametrize(
    "key", ["\x1b[2J", "x\r\nservices.web: fine", "\x07", "\x9b31m"], ids=["esc", "crlf", "bell", "csi"]
)
def test_a_field_path_shows_control_characters_escaped(key: str) -> None:
    """An unknown key is echoed raw in the field path: ESC sequences and CR/LF reach the terminal."""
    data = minimal()
    data["project"][key] = "x"
    assert_loads_or_locates(dump(data))


# --- more variants of each class ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        pytest.param("version: 2001-13-45\n", 1, "version", id="implicit-date-out-of-range"),
        pytest.param("version: !!int 0b\n", 1, "version", id="int-tag-empty-binary"),
        pytest.param("version: 1\nproject:\n  name: !!timestamp 2001-02-30\n", 3, "project.name", id="nested-date"),
        pytest.param("version: 1\nservices:\n  web:\n    - !!float nan?\n", 4, "services.web[0]", id="in-a-list"),
        pytest.param("version: 1\nproject: {name: !!bool maybe}\n", 2, "project.name", id="flow-mapping"),
    ],
)
def test_an_unreadable_typed_scalar_names_its_line_and_field(text: str, line: int, field: str) -> None:
    with pytest.raises(CatalogError) as raised:
        parse_catalog(text, source=SOURCE)
    (problem,) = raised.value.problems
    assert (problem.line, problem.field) == (line, field), problem
    assert "quote it" in problem.message
    assert_loads_or_locates(text)


@pytest.mark.parametrize(
    "depends_on",
    [["cache", {"migrate": "completed"}], [1], [None], [["cache", "migrate"]]],
    ids=["mixed", "int", "null", "nested-list"],
)
def test_a_depends_on_list_of_anything_but_names_is_refused_at_depends_on(depends_on: list[object]) -> None:
    data = minimal()
    data["services"]["web"]["depends_on"] = depends_on
    with pytest.raises(CatalogError) as raised:
        parse_catalog(dump(data), source=SOURCE)
    assert [p.field for p in raised.value.problems] == ["services.web.depends_on"]
    assert_loads_or_locates(dump(data))


def test_a_missing_top_level_field_points_at_the_first_top_level_key() -> None:
    """After a comment header, line 1 is a comment: the first key is where the top level starts."""
    data = minimal()
    del data["version"]
    text = "# my catalog\n# (owned by ops)\n\n" + dump(data)
    with pytest.raises(CatalogError) as raised:
        parse_catalog(text, source=SOURCE)
    assert [(p.line, p.field) for p in raised.value.problems] == [(4, "version")]


@pytest.mark.parametrize("key", [None, ""], ids=["null", "empty"])
def test_an_odd_key_at_the_root_is_located(key: str | None) -> None:
    """`~:` and `'':` at the root: unknown fields, with a line and a field shown (`None`, `""`)."""
    data = minimal()
    data[key] = "x"
    assert_loads_or_locates(dump(data))


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param("é: ü\n\nb: ö\x00\n", 3, id="after-multibyte-characters"),  # libyaml counts bytes
        pytest.param("a: 1\u2028b: \x07\n", 2, id="after-a-line-separator"),
        pytest.param("a: 1\r\nb: 2\rc: \x1b\n", 3, id="after-crlf-and-cr"),
        pytest.param("a: 1\n# \x08 in a comment\n", 2, id="in-a-comment"),
        pytest.param("a: '\x7f'\n", 1, id="delete-quoted"),
        pytest.param("a: '\x9b'\n", 1, id="c1-csi-quoted"),
        pytest.param("a: '\ud800'\n", 1, id="lone-surrogate"),
    ],
)
def test_a_character_yaml_refuses_is_located_on_its_line(text: str, line: int) -> None:
    with pytest.raises(CatalogError) as raised:
        parse_catalog(text, source=SOURCE)
    assert [p.line for p in raised.value.problems] == [line]
    assert_loads_or_locates(text)


@pytest.mark.parametrize(
    "key",
    ["\u202eevil", "a\u2028b", "a\x9db", "\x1b]8;;http://x\x07link", "\U000e0001"],
    ids=["bidi-override", "line-separator", "c1-osc", "osc8-hyperlink", "tag-character"],
)
def test_a_field_path_shows_invisible_and_reordering_characters_escaped(key: str) -> None:
    data = minimal()
    data["services"]["web"][key] = "x"
    with pytest.raises(CatalogError) as raised:
        parse_catalog(dump(data), source=SOURCE)
    (problem,) = raised.value.problems
    assert problem.field.startswith("services.web.") and problem.field.isprintable(), problem
    assert problem.field == "services.web." + key.encode("unicode_escape").decode("ascii")
