"""The one JSON convention for results: typed models whose fields are the `--json` keys, in order.

Every use case returns a ``Result``; the CLI prints ``to_json()`` for `--json`. The keys are a CI
contract (tests/cli/test_json_contract.py pins them), so a field is renamed only with an alias.
Plain dataclasses nested inside (a Problem, a translation Note) are written field by field.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, JsonValue, PlainSerializer

# How long something took, as `--json` shows it: seconds, rounded to hundredths.
Seconds = Annotated[float, PlainSerializer(lambda seconds: round(seconds, 2), return_type=float)]


class Result(BaseModel):
    def to_json(self) -> JsonValue:
        """The `--json` document. A result whose document is not simply its fields (a bare list, a flattened
        object) overrides this, and says so."""
        dumped: dict[str, JsonValue] = self.model_dump(mode="json", by_alias=True)
        return dumped
