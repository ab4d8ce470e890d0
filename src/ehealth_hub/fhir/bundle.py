"""Validation of FHIR R4 JSON built as dicts, with ``fhir.resources.R4B`` (FHIR 4.0.1 / 4.3 shared
structure; fhir.resources 8 ships no R4 module, R4B is the closest and accepts R4 content).

Mappings build dicts for speed and call :func:`validate_bundle` where a caller wants the structural
check (tests always; the CLI by default). Pydantic errors are translated here, in one place, into
``MappingError`` naming the entry and the element path.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

from pydantic import ValidationError

from ehealth_hub.core.errors import MappingError
from ehealth_hub.fhir.builders import Json


@cache
def model_class(resource_type: str) -> Any:
    """The ``fhir.resources.R4B`` model class of a resource type (``Patient`` -> Patient)."""
    try:
        module = importlib.import_module(f"fhir.resources.R4B.{resource_type.lower()}")
    except ModuleNotFoundError as exc:
        raise MappingError(
            f"unknown FHIR resource type {resource_type!r}",
            field="resourceType",
            rule="fhir.resource-type",
        ) from exc
    return getattr(module, resource_type)


def validate_resource(resource: Json, *, where: str = "") -> Any:
    """Validate one resource dict; returns the model; MappingError on the first problem."""
    if not resource.get("meta", {}).get("profile"):
        raise MappingError(
            "resource without meta.profile", field=where or "meta", rule="fhir.profile"
        )
    try:
        return model_class(resource["resourceType"]).model_validate(resource)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"])
        raise MappingError(
            f"invalid FHIR {resource['resourceType']}: {first['msg']}",
            field=f"{where}{resource['resourceType']}.{path}",
            rule="fhir.structure",
        ) from exc


def validate_bundle(bundle: Json) -> None:
    """Validate every entry resource of a Bundle, then the Bundle shell."""
    for index, entry in enumerate(bundle.get("entry", [])):
        validate_resource(entry["resource"], where=f"Bundle.entry[{index}].resource/")
    shell = {k: v for k, v in bundle.items() if k != "entry"}
    shell["meta"] = shell.get("meta") or {
        "profile": ["http://hl7.org/fhir/StructureDefinition/Bundle"]
    }
    validate_resource(shell, where="Bundle/")
