"""Names and small value types of the catalog, with a plain-words hint for each pattern."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .images import IMAGE_RE as IMAGE_RE

# A DNS-1123 label: valid as a Compose service name, a Kubernetes object name and a hostname part.
ServiceName = Annotated[str, StringConstraints(pattern=r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$")]
# Secrets are environment-style names: they are the keys of compose/.env.
SecretName = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,127}$")]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_.]{0,127}$")]
PortNumber = Annotated[int, Field(ge=1, le=65535)]
# Go-style durations as Compose writes them: 10s, 1m30s, 500ms; an Age (a retention age) may also count days.
_DURATION = r"([0-9]+(ms|s|m|h))+"
_AGE = r"([0-9]+(ms|s|m|h|d))+"
_PART = re.compile(r"([0-9]+)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
Duration = Annotated[str, StringConstraints(pattern=f"^{_DURATION}$")]
Age = Annotated[str, StringConstraints(pattern=f"^{_AGE}$")]
# Kubernetes binary quantities; Compose receives the same byte count.
MemoryQuantity = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]*(Ki|Mi|Gi|Ti)$")]
Hostname = Annotated[
    str,
    StringConstraints(
        pattern=r"^(\{domain\}|[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.(\{domain\}|[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?))*$"
    ),
]

# What each name pattern means, for error messages (a regex is no instruction).
PATTERN_HINTS: dict[str, str] = {}


def hint(annotated: object, hint: str) -> None:
    for meta in getattr(annotated, "__metadata__", ()):
        if isinstance(meta, StringConstraints) and meta.pattern:
            PATTERN_HINTS[str(meta.pattern)] = hint


hint(ServiceName, "use lowercase letters, digits and '-', starting with a letter, at most 63 characters (a DNS label)")
hint(Slug, "use lowercase letters, digits and '-', starting with a letter, at most 32 characters")
hint(SecretName, "use UPPER_CASE letters, digits and '_', starting with a letter")
hint(EnvName, "use letters, digits, '_' and '.', not starting with a digit")
hint(Duration, "write a duration such as 10s, 1m30s or 500ms")
hint(Age, "write a duration such as 30d, 12h or 1d12h")
hint(MemoryQuantity, "write a binary quantity such as 512Mi, 2Gi or 64Ki")
hint(Hostname, "write a hostname such as app.{domain} or api.example.com (lowercase)")

Layer = Literal["application", "orchestration", "data", "management"]
Phase = Literal["mvp", "scale"]
LAYERS: tuple[str, ...] = ("application", "orchestration", "data", "management")
PHASES: tuple[str, ...] = ("mvp", "scale")

# In env values, `${NAME}` references a catalog secret and `$$` is a literal dollar sign.
REFERENCE_RE = re.compile(r"\$\$|\$\{([^}]*)\}|\$")


def duration_seconds(text: str, *, days: bool = False) -> float:
    """Seconds in a Duration (with ``days``, an Age: 30d, 1d12h), spaces around it ignored; ValueError if it is
    not one (callers say what to write where it was given)."""
    value = text.strip()
    if not re.fullmatch(_AGE if days else _DURATION, value):
        raise ValueError(f"{text!r} is not a duration")
    return sum(int(number) * _UNIT_SECONDS[unit] for number, unit in _PART.findall(value))


def secret_references(value: str) -> list[str | None]:
    """Each secret name referenced in ``value``; None stands for a lone `$` that is not `$$`."""
    found: list[str | None] = []
    for match in REFERENCE_RE.finditer(value):
        text = match.group(0)
        if text != "$$":
            found.append(match.group(1) if text != "$" else None)
    return found


class Strict(BaseModel):
    """Unknown fields are errors (a typo must not pass silently); models are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)
