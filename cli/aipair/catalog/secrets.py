"""Catalog secrets: generated (with the character classes a consumer demands), a JWT signed with another
secret, or supplied by the operator."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from .types import SecretName, Strict

CharacterClass = Literal["lower", "upper", "digit"]
ALPHABET_CLASSES: dict[str, set[str]] = {
    "alnum": {"lower", "upper", "digit"},
    "hex": {"lower", "digit"},
    "base64url": {"lower", "upper", "digit"},
}


class GenerateSecret(Strict):
    length: Annotated[int, Field(ge=16, le=256)] = 32
    alphabet: Literal["alnum", "hex", "base64url"] = "alnum"
    require: list[CharacterClass] = Field(
        default_factory=list,
        description="Character classes the consumer demands at least one of (e.g. Kestra's password rules); "
        "the generator guarantees them.",
    )

    @model_validator(mode="after")
    def _classes_in_alphabet(self) -> GenerateSecret:
        impossible = sorted(set(self.require) - ALPHABET_CLASSES[self.alphabet])
        if impossible:
            raise ValueError(
                f"alphabet {self.alphabet} has no {', '.join(impossible)} characters; choose another alphabet"
            )
        return self


class JwtSecret(Strict):
    """A JWT signed (HS256) with another catalog secret, e.g. Supabase's anon and service keys."""

    signed_with: SecretName
    claims: dict[str, str | int | bool]
    expires_in_days: Annotated[int, Field(ge=1, le=36500)] = 3650


class Secret(Strict):
    description: str = ""
    generate: GenerateSecret | None = None
    jwt: JwtSecret | None = None
    supplied: bool = Field(default=False, description="The operator provides the value in compose/.env.")

    @model_validator(mode="after")
    def _one_source(self) -> Secret:
        sources = [name for name in ("generate", "jwt") if getattr(self, name) is not None]
        if self.supplied:
            sources.append("supplied")
        if len(sources) != 1:
            found = ", ".join(sources) if sources else "none"
            raise ValueError(
                f"a secret needs exactly one source — `generate: {{}}`, `jwt: {{...}}` or `supplied: true` (found: {found})"
            )
        return self
