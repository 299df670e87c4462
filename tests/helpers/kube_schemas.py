"""Strict Kubernetes schema validation for older servers (kubernetes-validate's schemas), with one compiled
validator per (version, apiVersion, kind).

`kubernetes_validate.validate` builds a new validator and a new reference registry for every object, so the
same `_definitions.json` references are resolved again each time (~40 ms a Deployment); the tests validate
hundreds of objects. This keeps kubernetes-validate's own lookup (its `utils`) and caches the validator.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import jsonschema
import kubernetes_validate
from kubernetes_validate import utils
from referencing import Registry, Resource

ValidationError = kubernetes_validate.ValidationError


@functools.cache
def _validator(version: str, api_version: str, kind: str) -> jsonschema.protocols.Validator:
    schema_version = [v for v in utils.all_versions() if utils.major_minor(v) <= utils.major_minor(version)][-1]
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    folder = f"kubernetes-json-schema/v{schema_version}-local-strict"
    schema = utils.schema_contents(f"{folder}/{kind.lower()}-{group}.json", version)
    definitions = utils.schema_contents(f"{folder}/_definitions.json", version)
    registry: Registry = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def validate_strict(obj: dict[str, Any], version: str) -> None:
    """Raise kubernetes_validate.ValidationError when ``obj`` is not valid for ``version`` (unknown fields too)."""
    try:
        _validator(version, str(obj["apiVersion"]), str(obj["kind"])).validate(obj)
    except jsonschema.ValidationError as exc:
        raise ValidationError(exc, version=version) from None
