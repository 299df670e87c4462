"""Generated secrets satisfy their consumer's rules by construction (e.g. Kestra's password rules)."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from aipair.catalog.secrets import GenerateSecret
from aipair.engines.secretstore import generate


@pytest.mark.parametrize("alphabet", ["alnum", "base64url"])
def test_every_required_class_is_present_every_time(alphabet: str) -> None:
    spec = GenerateSecret(length=16, alphabet=alphabet, require=["upper", "lower", "digit"])  # type: ignore[arg-type]
    values = [generate(spec) for _ in range(2000)]
    for value in values:
        assert len(value) == 16
        assert re.search("[A-Z]", value) and re.search("[a-z]", value) and re.search("[0-9]", value), value
    assert len(set(values)) == len(values)  # no repeats: the OS's generator, not a fixed pattern
    positions = {next(i for i, c in enumerate(v) if c.isdigit()) for v in values}
    assert len(positions) > 8  # the guaranteed characters are not always in the same place


def test_a_class_the_alphabet_lacks_is_refused() -> None:
    with pytest.raises(ValidationError, match="alphabet hex has no upper characters"):
        GenerateSecret(alphabet="hex", require=["upper"])


def test_the_kestra_password_meets_kestras_rules_by_construction() -> None:
    from aipair.catalog import load_catalog

    from ..helpers.paths import DEFAULT_CATALOG

    spec = load_catalog(DEFAULT_CATALOG).secrets["KESTRA_ADMIN_PASSWORD"].generate
    assert spec is not None
    for _ in range(500):
        value = generate(spec)
        assert len(value) >= 8 and re.search("[A-Z]", value) and re.search("[0-9]", value), value
