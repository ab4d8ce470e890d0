"""FHIR http conventions shared by every ``/fhir`` route (FHIR R4 4.0.1, http.html#mime-type).

The hub speaks JSON only: ``_format`` may be ``json``, ``application/json``,
``application/fhir+json`` (or the R3 alias ``application/json+fhir``); an ``Accept`` header must
admit one of those (or a wildcard), or, reading a Binary, its own content type (FHIR
binary.html: the KMEHR a note was sent as, ``text/xml``/``application/xml``). Anything else is
answered ``406 Not Acceptable`` with an OperationOutcome naming ``_format`` / ``Accept`` and the
rule; a request body must be declared ``application/fhir+json`` or ``application/json`` (a
``charset`` parameter allowed), else ``415 Unsupported Media Type`` naming ``Content-Type``.
Request bodies are parsed here too: JSON objects only, size-limited, errors naming the body and
the rule. So are the ``patient`` search parameter (an SSIN, bare or as ``<ssin-system>|<ssin>``)
and NIHII parameters alike; searches themselves are :mod:`ehealth_hub.api.search`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

import orjson
from fastapi import Depends, FastAPI, Request

from ehealth_hub.api.door import check_resource
from ehealth_hub.api.errors import NotAcceptable, UnsupportedMediaType
from ehealth_hub.core.errors import IdentifierError, InvalidInput
from ehealth_hub.core.identifiers import Nihii, Ssin
from ehealth_hub.fhir.profiles import NIHDI_SYSTEM, SSIN_SYSTEM

T = TypeVar("T")

JSON_FORMATS: Final = frozenset(
    {"json", "application/json", "application/fhir+json", "application/json+fhir"}
)
_WILDCARDS: Final = frozenset({"*/*", "application/*"})
_BODY_FORMATS: Final = frozenset(
    {"application/json", "application/fhir+json", "application/json+fhir"}
)
NATIVE_BINARY_TYPES: Final = frozenset({"text/xml", "application/xml"})
"""What ``GET /fhir/Binary/{id}`` may also answer: the KMEHR it holds, natively (binary.html)."""
_BINARY_READ: Final = "/fhir/Binary/"


def _media(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def media_ranges(accept: str) -> set[str]:
    """The media ranges an ``Accept`` header lists (parameters and weights dropped)."""
    return {_media(part) for part in accept.split(",") if part.strip()}


async def fhir_format(request: Request) -> None:
    """406 when ``_format`` or ``Accept`` asks for anything but FHIR JSON, 415 when a request
    body is not declared FHIR JSON (on /fhir paths)."""
    if not request.url.path.startswith("/fhir"):
        return
    wanted = request.query_params.get("_format")
    if wanted is not None and _media(wanted) not in JSON_FORMATS:
        raise NotAcceptable(
            f"_format {wanted!r} is not supported: this server speaks FHIR JSON only",
            field="_format",
            rule="format-json-only",
            system="api",
        )
    accept = request.headers.get("accept")
    if accept:
        ranges = media_ranges(accept)
        native = NATIVE_BINARY_TYPES if request.url.path.startswith(_BINARY_READ) else frozenset()
        if not ranges & (JSON_FORMATS | _WILDCARDS | native):
            raise NotAcceptable(
                "Accept must admit application/fhir+json",
                field="Accept",
                rule="format-json-only",
                system="api",
            )
    if _has_body(request):
        _check_content_type(request.headers.get("content-type"))


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    return (length is not None and length != "0") or "transfer-encoding" in request.headers


def _check_content_type(value: str | None) -> None:
    """415 unless the body is declared ``application/fhir+json`` or ``application/json``
    (parameters such as ``charset=utf-8`` allowed; FHIR R4 http.html#mime-type)."""
    if value is None or _media(value) not in _BODY_FORMATS:
        raise UnsupportedMediaType(
            f"Content-Type {value or '(none)'!r} is not accepted: send application/fhir+json",
            field="Content-Type",
            rule="content-type-fhir-json",
            system="api",
        )


async def json_body(request: Request) -> dict[str, Any]:
    """The request body as a JSON object whose identifiers and sizes pass the door's checks
    (:mod:`ehealth_hub.api.door`; the body's size was bounded by its middleware); InvalidInput
    naming the field and the rule otherwise."""
    body = await request.body()
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(
            f"the body is not JSON: {exc}", field="body", rule="json", system="api"
        ) from exc
    if not isinstance(value, dict):
        raise InvalidInput(
            "the body must be a JSON object (a FHIR resource)",
            field="body",
            rule="json-object",
            system="api",
        )
    check_resource(value, request.app.state.container.settings.limits)
    return value


def identifier_param(
    value: str, system: str, parse: Callable[[str], T], field: str, rule: str
) -> T:
    """The identifier a request parameter names, as ``<system>|<value>`` or as the bare value
    (unambiguous: the parameter takes one naming system only); InvalidInput naming ``field``."""
    named, _, bare = value.rpartition("|")
    if named and named != system:
        raise InvalidInput(
            f"{field} must be {system}|<value> (or the bare value)", field=field, rule=rule
        )
    return parse_named(parse, bare, field)


def patient_ssin_param(value: str) -> str:
    """The SSIN a ``patient`` search parameter names (bare, or ``<ssin-system>|<ssin>``)."""
    return identifier_param(value, SSIN_SYSTEM, Ssin.parse, "patient", "patient-ssin").value


def nihii_param(value: str, field: str) -> str:
    """The person NIHII a parameter names (bare, or ``<nihii-system>|<nihii>``)."""
    return identifier_param(value, NIHDI_SYSTEM, Nihii.person, field, f"{field}-nihii").value


def parse_named(parse: Callable[[str], T], raw: str, field: str) -> T:
    """``parse(raw)``, an IdentifierError naming the request's ``field`` instead of the kind."""
    try:
        return parse(raw)
    except IdentifierError as exc:
        raise type(exc)(exc.detail, field=field, rule=exc.rule, system="api") from exc


def install_conventions(app: FastAPI) -> None:
    """Check ``_format``/``Accept``/``Content-Type`` on every route included after this call."""
    app.router.dependencies.append(Depends(fhir_format))
