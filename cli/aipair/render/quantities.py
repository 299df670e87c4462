"""Kubernetes resource quantities in the canonical form the API server stores. Pure.

The server keeps a quantity as it normalises it (`1000m` is stored as `1`, `1024Mi` as `1Gi`). Server-side
apply then sees another field manager that applies the catalog's spelling as changing the value, and answers
409 Conflict. Rendering the stored form makes every apply of the same catalog identical to what is live.
Hand-written because no Python library reproduces apimachinery's `Quantity.String()`: for the two shapes the
catalog can express (whole millicores; a whole number with a binary suffix) it is the largest suffix that
keeps the number whole.
"""

from __future__ import annotations

import re

MILLI_PER_CORE = 1000
_BINARY = re.compile(r"^([0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei)$")
_BINARY_SUFFIXES = ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
_BINARY_STEP = 1024


def cpu(millicores: int) -> str:
    """Whole cores without a suffix, anything else in millicores: 1000 → "1", 1500 → "1500m"."""
    if millicores % MILLI_PER_CORE == 0:
        return str(millicores // MILLI_PER_CORE)
    return f"{millicores}m"


def binary(quantity: str) -> str:
    """A binary quantity with the largest suffix that keeps it whole: "1024Mi" → "1Gi", "1536Mi" stays."""
    match = _BINARY.fullmatch(quantity)
    if not match:
        raise ValueError(f"not a binary quantity: {quantity!r}")
    number, index = int(match.group(1)), _BINARY_SUFFIXES.index(match.group(2))
    while number and number % _BINARY_STEP == 0 and index + 1 < len(_BINARY_SUFFIXES):
        number //= _BINARY_STEP
        index += 1
    return f"{number}{_BINARY_SUFFIXES[index]}"
