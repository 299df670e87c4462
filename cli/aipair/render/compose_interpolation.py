"""What Compose may interpolate in the rendered file, and nothing else.

Compose interpolates `$` anywhere in the file, from the deployer's shell and compose/.env. So the renderer
builds every string as the literal text it means, a secret reference as a ``SecretRef``, and one pass at
the end (``escape_document``) doubles every `$` except in the references aipair wrote: the catalog cannot
reach any variable but its declared secrets, whatever field the text comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..catalog.model import Catalog
from ..catalog.types import REFERENCE_RE


@dataclass(frozen=True)
class SecretRef:
    """A reference to a catalog secret, the one thing Compose may interpolate."""

    name: str

    def compose(self) -> str:
        return (
            "${" + self.name + "?" + self.name + " is not set: run `aipair render --phase mvp` to create compose/.env}"
        )


@dataclass(frozen=True)
class Interpolated:
    """A value mixing literal text and secret references (an env value such as `redis://:${PW}@cache`)."""

    parts: tuple[str | SecretRef, ...]


def escape_document(node: Any) -> Any:
    """The document as Compose must read it: literal `$` doubled, secret references written as `${NAME?…}`."""
    if isinstance(node, dict):
        return {key: escape_document(value) for key, value in node.items()}
    if isinstance(node, list):
        return [escape_document(value) for value in node]
    if isinstance(node, str):
        return node.replace("$", "$$")
    if isinstance(node, SecretRef):
        return node.compose()
    if isinstance(node, Interpolated):
        return "".join(escape_document(part) for part in node.parts)
    return node


def env_value(catalog: Catalog, value: str | int | float | bool) -> Interpolated:
    """Catalog env value → literal text and secret references: `{domain}` expanded, `$$` a literal `$`.

    Validation leaves no lone `$` and only declared secret names in `${…}` (checks.py).
    """
    if isinstance(value, bool):
        return Interpolated(("true" if value else "false",))
    text = catalog.expand(str(value))
    parts: list[str | SecretRef] = []
    last = 0
    for match in REFERENCE_RE.finditer(text):
        parts.append(text[last : match.start()])
        token, name = match.group(0), match.group(1)
        parts.append(SecretRef(name) if name else ("$" if token == "$$" else token))
        last = match.end()
    parts.append(text[last:])
    return Interpolated(tuple(part for part in parts if part != ""))
